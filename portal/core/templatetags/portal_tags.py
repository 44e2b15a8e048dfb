from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()


@register.simple_tag
def section_url(section: str) -> str:
    """The section's index page, or a placeholder while that app has no pages yet."""
    try:
        return reverse(f"{section}:index")
    except NoReverseMatch:
        return reverse("section_placeholder", args=[section])


@register.simple_tag(takes_context=True)
def active_if(context: template.Context, prefix: str) -> str:
    request = context.get("request")
    return "active" if request is not None and request.path.startswith(prefix) else ""
