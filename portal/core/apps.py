from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from portal.core import checks  # noqa: F401  (registers the system checks)
        from portal.core.ratelimit import connect_signals

        connect_signals()
