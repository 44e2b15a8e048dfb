"""Week pages show the kernel submissions that are evidence for their practice project."""

from __future__ import annotations

from typing import Any

from django import template

from portal.labs.kernels.models import Submission

register = template.Library()

# The graded problems belong to week 10's project (fused softmax / attention forward).
GRADED_WEEKS = {10}


@register.simple_tag(takes_context=True)
def week_kernel_evidence(context: dict[str, Any], week_number: int) -> dict[str, Any]:
    if week_number not in GRADED_WEEKS:
        return {"graded": False, "passing": []}
    request = context.get("request")
    user = getattr(request, "user", None)
    passing = list(Submission.objects.owned_by(user).passing()[:10]) if user else []
    return {"graded": True, "passing": passing}
