from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from pydantic import ValidationError

from portal.curriculum.models import HourCategory, WeeklyReview
from portal.curriculum.schemas import MAX_HOURS_PER_WEEK, MAX_LINES, MAX_TEXT, ReviewIn

PROBLEM_ROWS_EXTRA = 2


class StartDateForm(forms.Form):
    start_date = forms.DateField(
        label=_("Start date of week 1"), widget=forms.DateInput(attrs={"type": "date"})
    )


class ItemToggleForm(forms.Form):
    done = forms.BooleanField(required=False)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class ReviewForm(forms.Form):
    """The 每周复盘 form: one line per completed item / plan item, problems as pairs."""

    completed = forms.CharField(
        label=_("Done this week (one per line)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=MAX_TEXT * MAX_LINES,
    )
    next_plan = forms.CharField(
        label=_("Plan for next week (one per line)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=MAX_TEXT * MAX_LINES,
    )

    def __init__(self, *args: Any, problem_rows: int = 3, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.is_bound:
            # Keep every posted pair, even when it is more than the form first offered.
            posted = [k for k in self.data if k.startswith("problem_")]
            problem_rows = max(problem_rows, len(posted))
        self.problem_rows = min(problem_rows, MAX_LINES)
        for n in range(self.problem_rows):
            self.fields[f"problem_{n}"] = forms.CharField(
                label=_("Problem %(n)s") % {"n": n + 1}, required=False, max_length=MAX_TEXT
            )
            self.fields[f"solution_{n}"] = forms.CharField(
                label=_("Solution"), required=False, max_length=MAX_TEXT
            )
        for c in HourCategory:
            self.fields[f"hours_{c.value}"] = forms.DecimalField(
                label=c.label,
                min_value=0,
                max_value=MAX_HOURS_PER_WEEK,
                decimal_places=1,
                required=False,
                widget=forms.NumberInput(attrs={"step": "0.5"}),
            )

    @classmethod
    def for_review(cls, review: WeeklyReview | None) -> ReviewForm:
        if review is None:
            return cls()
        initial: dict[str, Any] = {
            "completed": "\n".join(review.completed),
            "next_plan": "\n".join(review.next_plan),
        }
        for n, p in enumerate(review.problems):
            initial[f"problem_{n}"] = p.get("problem", "")
            initial[f"solution_{n}"] = p.get("solution", "")
        for c in HourCategory:
            initial[f"hours_{c.value}"] = getattr(review, f"hours_{c.value}")
        return cls(initial=initial, problem_rows=len(review.problems) + PROBLEM_ROWS_EXTRA)

    def problem_pairs(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"problem_{n}"], self[f"solution_{n}"]) for n in range(self.problem_rows)]

    def hour_fields(self) -> list[forms.BoundField]:
        return [self[f"hours_{c.value}"] for c in HourCategory]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        problems = []
        for n in range(self.problem_rows):
            problem = (data.get(f"problem_{n}") or "").strip()
            solution = (data.get(f"solution_{n}") or "").strip()
            if solution and not problem:
                self.add_error(f"problem_{n}", _("Describe the problem this solution is for."))
            elif problem:
                problems.append({"problem": problem, "solution": solution})
        try:
            self.review = ReviewIn.model_validate(
                {
                    "completed": _lines(data.get("completed") or ""),
                    "next_plan": _lines(data.get("next_plan") or ""),
                    "problems": problems,
                    "hours": {
                        c.value: float(data.get(f"hours_{c.value}") or 0) for c in HourCategory
                    },
                }
            )
        except ValidationError as exc:
            for error in exc.errors():
                self.add_error(None, f"{'.'.join(map(str, error['loc']))}: {error['msg']}")
        return data
