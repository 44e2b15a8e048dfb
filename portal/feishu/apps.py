from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeishuConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal.feishu"
    label = "feishu"
    verbose_name = _("Feishu assistant")
