from __future__ import annotations

import markdown as markdown_lib
import nh3
from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_MARKDOWN_EXTENSIONS = ["fenced_code", "tables", "sane_lists"]


@register.filter
def notes_markdown(text: str) -> SafeString:
    """A person's Markdown notes as sanitised HTML."""
    html = markdown_lib.markdown(text or "", extensions=_MARKDOWN_EXTENSIONS)
    return mark_safe(nh3.clean(html))  # nh3 removed anything unsafe


def _first_reverse(candidates: list[tuple[str, list[object], dict[str, object]]]) -> str:
    for name, args, kwargs in candidates:
        try:
            return reverse(name, args=args, kwargs=kwargs)
        except NoReverseMatch:
            continue
    return ""


@register.simple_tag
def curriculum_week_url(week: int) -> str:
    """The curriculum's page for a week, or "" while the curriculum has none (soft link)."""
    return _first_reverse(
        [
            ("curriculum:week", [week], {}),
            ("curriculum:week_detail", [week], {}),
        ]
    )


@register.simple_tag
def lab_url(lab_id: str) -> str:
    """The lab's page, or "" while no such lab is registered (soft link)."""
    from portal.labs.registry import get_lab

    if not lab_id or get_lab(lab_id) is None:
        return ""
    return _first_reverse(
        [
            ("labs:detail", [lab_id], {}),
            ("labs:lab", [lab_id], {}),
        ]
    )
