from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal.labs.hal"
    label = "hal"
    verbose_name = _("Hardware abstraction layer")

    def ready(self) -> None:
        from celery.signals import worker_ready

        from portal.labs.hal import services

        worker_ready.connect(services.on_worker_ready, dispatch_uid="hal-worker-devices")
