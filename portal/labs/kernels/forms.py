"""The submission form: problem, dtype, language, and the source pasted or uploaded."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.labs.kernels.models import Submission
from portal.labs.kernels.submission_services import MAX_SOURCE_BYTES


class SubmissionForm(forms.Form):
    problem = forms.ChoiceField(label=_("Problem"), choices=Submission.Problem.choices)
    dtype = forms.ChoiceField(label=_("dtype"), choices=Submission.Dtype.choices)
    language = forms.ChoiceField(label=_("Language"), choices=Submission.Language.choices)
    source = forms.CharField(
        label=_("Source"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false", "class": "code"}),
    )
    upload = forms.FileField(label=_("…or upload a .py file"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upload = data.get("upload")
        if upload is not None:
            if upload.size > MAX_SOURCE_BYTES:
                raise forms.ValidationError(
                    _("The file is over %(n)s bytes.") % {"n": f"{MAX_SOURCE_BYTES:,}"}
                )
            try:
                data["source"] = upload.read().decode("utf-8")
            except UnicodeDecodeError as exc:
                raise forms.ValidationError(_("The file is not UTF-8 text.")) from exc
        if not (data.get("source") or "").strip():
            raise forms.ValidationError(_("Paste your kernel or upload a file."))
        if len(data["source"].encode()) > MAX_SOURCE_BYTES:
            raise forms.ValidationError(
                _("The source is over %(n)s bytes.") % {"n": f"{MAX_SOURCE_BYTES:,}"}
            )
        return data
