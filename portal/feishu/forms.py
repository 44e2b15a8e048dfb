from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.feishu.client import WebhookURLError, validate_webhook_url
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
        if not url:
            return url
        try:
            return validate_webhook_url(url)
        except WebhookURLError as exc:
            raise forms.ValidationError(
                _(
                    "Only a Feishu or Lark group bot hook on a public address is accepted "
                    "(https://open.feishu.cn/open-apis/bot/v2/hook/...): %(reason)s."
                )
                % {"reason": exc}
            ) from exc
