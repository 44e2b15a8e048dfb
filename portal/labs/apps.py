from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LabsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal.labs"
    label = "labs"
    verbose_name = _("Labs")

    def ready(self) -> None:
        from portal.celery import app
        from portal.labs.conf import setting_float
        from portal.labs.llm import lab as llm_labs  # noqa: F401 - llm-quant, llm-serving

        app.conf.beat_schedule["labs-reap-lost-runs"] = {
            "task": "labs.reap_lost_runs",
            "schedule": setting_float("LABS_REAPER_INTERVAL_S"),
            "options": {"queue": app.conf.task_default_queue or "cpu", "expires": 60},
        }
        from portal.labs import dashboard

        dashboard.register()
