from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.apps import AppConfig
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

WATCH_BEAT_KEY = "papers-watch-queries"


def _curriculum_loaded(sender: Any, *, content: Any, **kwargs: Any) -> None:
    """The curriculum's readings changed: re-derive every paper's weeks from them."""
    from portal.curriculum.content import reading_weeks
    from portal.papers.services import set_curriculum_weeks

    set_curriculum_weeks(weeks=reading_weeks(content))


class PapersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal.papers"
    label = "papers"
    verbose_name = _("Papers")

    def ready(self) -> None:
        from portal.celery import app
        from portal.core.dashboard import Panel, register_panel
        from portal.papers.conf import watch_interval_minutes
        from portal.papers.views import dashboard_panel_context

        app.conf.beat_schedule = {
            **(app.conf.beat_schedule or {}),
            WATCH_BEAT_KEY: {
                "task": "portal.papers.tasks.run_watch_queries_task",
                "schedule": timedelta(minutes=watch_interval_minutes()),
            },
        }
        from portal.curriculum.evidence import register_paper_provider
        from portal.curriculum.signals import content_loaded
        from portal.papers.services import core_ids, read_arxiv_ids

        register_paper_provider(
            read_arxiv_ids=read_arxiv_ids,
            # Core papers have a page for everyone; any other reading links to arXiv.
            paper_url=lambda arxiv_id: (
                reverse("papers:detail", args=[arxiv_id]) if arxiv_id in core_ids() else None
            ),
        )
        content_loaded.connect(_curriculum_loaded, dispatch_uid="papers-curriculum-weeks")
        register_panel(
            Panel(
                key="papers",
                template="papers/_dashboard_panel.html",
                context=dashboard_panel_context,
                order=20,
            )
        )
