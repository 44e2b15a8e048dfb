from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KernelsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal.labs.kernels"
    label = "kernels"
    verbose_name = _("Kernel lab")

    def ready(self) -> None:
        from portal.labs.kernels.lab import KERNEL_LAB
        from portal.labs.kernels.submission_lab import SUBMISSION_LAB
        from portal.labs.registry import register_lab

        register_lab(KERNEL_LAB)
        register_lab(SUBMISSION_LAB)
