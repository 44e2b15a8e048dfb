from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LlmConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal.labs.llm"
    label = "llm"
    verbose_name = _("LLM labs")

    def ready(self) -> None:
        from portal.labs.llm.deploy import DEPLOY_LAB
        from portal.labs.llm.lab import QUANT_LAB, SERVING_LAB
        from portal.labs.registry import register_lab

        for lab in (QUANT_LAB, SERVING_LAB, DEPLOY_LAB):
            register_lab(lab)
