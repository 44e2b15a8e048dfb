from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SystemBenchmarkConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal.labs.system_benchmark"
    label = "system_benchmark"
    verbose_name = _("System benchmark lab")

    def ready(self) -> None:
        from portal.labs.registry import register_lab
        from portal.labs.system_benchmark.lab import LAB

        register_lab(LAB)
