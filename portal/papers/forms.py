from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.papers.arxiv_api import parse_arxiv_ref
from portal.papers.models import Domain, ReadingStatus
from portal.papers.services import clean_tags, validate_arxiv_query

PRIORITY_CHOICES = [("", _("Any priority"))] + [(str(n), "★" * n) for n in range(5, 0, -1)]
RATING_CHOICES = [("", _("No rating"))] + [(str(n), "★" * n) for n in range(1, 6)]


class LibraryFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    domain = forms.ChoiceField(
        label=_("Domain"), required=False, choices=[("", _("All domains")), *Domain.choices]
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *ReadingStatus.choices]
    )
    priority = forms.TypedChoiceField(
        label=_("Priority"), required=False, choices=PRIORITY_CHOICES, coerce=int, empty_value=None
    )
    tag = forms.CharField(label=_("Tag"), required=False, max_length=40)

    def filters(self) -> dict[str, Any]:
        """The cleaned filters, or none at all when the query string is invalid."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "q": data["q"],
            "domain": data["domain"],
            "status": data["status"],
            "priority": data["priority"],
            "tag": data["tag"],
        }


class AddPaperForm(forms.Form):
    ref = forms.CharField(
        label=_("arXiv id or URL"),
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "2307.08691 / https://arxiv.org/abs/…"}),
    )

    def clean_ref(self) -> str:
        ref = self.cleaned_data["ref"]
        try:
            parse_arxiv_ref(ref)
        except ValueError as exc:
            raise forms.ValidationError(_("Not an arXiv id or arxiv.org URL.")) from exc
        return ref


class ReadingForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=ReadingStatus.choices)
    rating = forms.TypedChoiceField(
        label=_("Rating"), required=False, choices=RATING_CHOICES, coerce=int, empty_value=None
    )
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=900,
        help_text=_("Comma-separated."),
    )
    notes = forms.CharField(
        label=_("Notes (Markdown)"),
        required=False,
        max_length=50_000,
        widget=forms.Textarea(attrs={"rows": 10}),
    )

    def clean_tags(self) -> list[str]:
        try:
            return clean_tags(self.cleaned_data["tags"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


class WatchForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    query = forms.CharField(
        label=_("arXiv query"),
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "cat:cs.AR AND abs:accelerator"}),
    )
    max_results = forms.IntegerField(
        label=_("Results per run"), min_value=1, max_value=200, initial=25
    )

    def clean_query(self) -> str:
        try:
            return validate_arxiv_query(self.cleaned_data["query"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
