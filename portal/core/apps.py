from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from celery.signals import worker_ready, worker_shutdown
        from django.db.backends.signals import connection_created

        from portal.core import checks  # noqa: F401  (registers the system checks)
        from portal.core.health import on_worker_ready, on_worker_shutdown
        from portal.core.pagecache import install
        from portal.core.ratelimit import connect_signals

        connect_signals()
        # Every connection of every process reports its writes to the page cache.
        connection_created.connect(install, dispatch_uid="core-pagecache-writes")
        worker_ready.connect(on_worker_ready, dispatch_uid="core-worker-heartbeat")
        worker_shutdown.connect(on_worker_shutdown, dispatch_uid="core-worker-heartbeat-stop")
