from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeishuConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal.feishu"
    label = "feishu"
    verbose_name = _("Feishu assistant")

    def ready(self) -> None:
        from celery.schedules import crontab
        from celery.signals import worker_ready, worker_shutdown

        from portal.celery import app
        from portal.core.dashboard import Panel, register_panel
        from portal.core.pagecache import unwatch
        from portal.feishu import (
            checks,  # noqa: F401  (registers the system check)
            receivers,
            relay,
        )
        from portal.feishu.models import FeishuEvent
        from portal.feishu.views import dashboard_panel

        register_panel(Panel("feishu", "feishu/panel.html", dashboard_panel, order=40))
        # Stored in every delivery's acknowledgement, shown by no cached page.
        unwatch(FeishuEvent._meta.db_table)
        receivers.connect()  # lab runs finishing, curriculum phases completed
        # Stored events reach the feishu queue through the relay of the worker serving it.
        worker_ready.connect(relay.on_worker_ready, dispatch_uid="feishu-relay")
        worker_shutdown.connect(relay.on_worker_shutdown, dispatch_uid="feishu-relay")

        app.conf.beat_schedule.update(
            {
                "feishu-weekly-digest": {
                    "task": "portal.feishu.tasks.weekly_digest_task",
                    "schedule": crontab(minute=0),
                },
            }
        )
