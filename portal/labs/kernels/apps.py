from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KernelsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal.labs.kernels"
    label = "kernels"
    verbose_name = _("Kernel lab")

    def ready(self) -> None:
        from portal.labs.kernels import (
            lab,  # noqa: F401  (registers the lab)
            submission_lab,  # noqa: F401  (registers the grading lab)
        )
