from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.feishu.models import FeishuBinding


class NotificationSettingsForm(forms.ModelForm):
    class Meta:
        model = FeishuBinding
        fields = [
            "channel",
            "webhook_url",
            "webhook_secret",
            "digest_enabled",
            "digest_weekday",
            "digest_hour",
            "notify_events",
            "review_reminder",
        ]
        widgets = {"webhook_secret": forms.PasswordInput(render_value=True)}

    def clean_digest_hour(self) -> int:
        hour = self.cleaned_data["digest_hour"]
        if not 0 <= hour <= 23:
            raise forms.ValidationError(_("Choose an hour between 0 and 23."))
        return hour

    def clean_webhook_url(self) -> str:
        url = self.cleaned_data["webhook_url"].strip()
        if url and not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise forms.ValidationError(_("The webhook URL must use https."))
        return url
