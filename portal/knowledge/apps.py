from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KnowledgeConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal.knowledge"
    label = "knowledge"
    verbose_name = _("Knowledge base")

    def ready(self) -> None:
        from portal.celery import app
        from portal.core.dashboard import Panel, register_panel
        from portal.knowledge.views import dashboard_panel

        register_panel(Panel("knowledge", "knowledge/panel.html", dashboard_panel, order=35))
        app.conf.beat_schedule["knowledge-sync-sources"] = {
            "task": "portal.knowledge.tasks.sync_sources_task",
            "schedule": 30 * 60,
        }
