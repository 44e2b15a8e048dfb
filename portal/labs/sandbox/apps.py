from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SandboxConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal.labs.sandbox"
    label = "sandbox"
    verbose_name = _("Agent Sandbox lab")

    def ready(self) -> None:
        from portal.labs.registry import register_lab
        from portal.labs.sandbox.lab import LAB

        register_lab(LAB)
