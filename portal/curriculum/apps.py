from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CurriculumConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal.curriculum"
    label = "curriculum"
    verbose_name = _("Curriculum")

    def ready(self) -> None:
        from portal.core.dashboard import Panel, register_panel
        from portal.curriculum.views import dashboard_panel_context

        register_panel(
            Panel(
                key="curriculum",
                template="curriculum/panel.html",
                context=dashboard_panel_context,
                order=10,
            )
        )
