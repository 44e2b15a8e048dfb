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
        _connect_plan_invalidation()


def _connect_plan_invalidation() -> None:
    """A changed phase, week or item, or a content load, makes every process reload the plan."""
    from django.db import transaction
    from django.db.models.signals import post_delete, post_migrate, post_save

    from portal.curriculum.models import Item, Phase, Week
    from portal.curriculum.plan import invalidate_plan
    from portal.curriculum.signals import content_loaded

    def changed(**kwargs: object) -> None:
        # Now, and again once committed: a process that reloaded in between read the old rows.
        invalidate_plan()
        transaction.on_commit(invalidate_plan)

    for model in (Phase, Week, Item):
        post_save.connect(
            changed, sender=model, weak=False, dispatch_uid=f"plan-saved-{model.__name__}"
        )
        post_delete.connect(
            changed, sender=model, weak=False, dispatch_uid=f"plan-deleted-{model.__name__}"
        )
    content_loaded.connect(changed, weak=False, dispatch_uid="plan-content-loaded")
    # `flush` (and a test database's reset) empties the tables without row signals.
    post_migrate.connect(changed, weak=False, dispatch_uid="plan-migrated")
