from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PipelineCheckConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal.labs.pipeline_check"
    label = "pipeline_check"
    verbose_name = _("Pipeline check lab")

    def ready(self) -> None:
        from portal.labs.pipeline_check.lab import LAB
        from portal.labs.registry import register_lab

        register_lab(LAB)
