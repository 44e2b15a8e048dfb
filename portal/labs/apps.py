from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LabsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal.labs"
    label = "labs"
    verbose_name = _("Labs")
