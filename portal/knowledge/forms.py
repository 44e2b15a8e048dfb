from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.knowledge.answering import MAX_QUESTION_CHARS
from portal.knowledge.models import Source


class UploadForm(forms.Form):
    file = forms.FileField(label=_("File (Markdown, text or PDF)"))
    title = forms.CharField(label=_("Title (optional)"), max_length=300, required=False)


class AskForm(forms.Form):
    q = forms.CharField(label=_("Question"), max_length=MAX_QUESTION_CHARS)
    source = forms.ChoiceField(
        label=_("Only from"), choices=[("", _("All sources")), *Source.choices], required=False
    )
