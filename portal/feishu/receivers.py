"""The Feishu app's answers to what other apps report: a lab run finished, a curriculum
task ticked (which may complete a phase). Connected in FeishuConfig.ready()."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

log = logging.getLogger(__name__)


def on_run_finished(sender: Any, *, run: Any, **kwargs: Any) -> None:
    """Notify the owner (if they opted in) and put the report into their knowledge base now.

    Without a notification the report waits for the periodic sync, so finishing a run
    queues no embedding job for people who do not use the assistant.
    """
    from portal.feishu import services
    from portal.knowledge import sources

    if (
        services.notify_run_finished(run=run) is not None
        and run.status in sources.REPORTED_STATUSES
    ):
        sources.ingest_run(run.pk)


def on_item_progress_saved(
    sender: Any, *, instance: Any, created: bool, update_fields: Any, **kwargs: Any
) -> None:
    if not instance.done or (not created and update_fields and "done" not in update_fields):
        return
    user_id, item_id = instance.user_id, instance.item_id
    transaction.on_commit(lambda: check_phase_done(user_id=user_id, item_id=item_id))


def check_phase_done(*, user_id: int, item_id: int) -> None:
    """When the ticked task was the last open one of its phase, say so in Feishu."""
    from django.contrib.auth import get_user_model

    from portal.curriculum.models import Item
    from portal.feishu.services import notify_phase_done

    item = Item.objects.select_related("week__phase").filter(pk=item_id).first()
    if item is None or item.week is None or item.kind != "task":
        return
    user = get_user_model().objects.filter(pk=user_id).first()
    phase = item.week.phase
    open_tasks = (
        Item.objects.active()
        .tasks()
        .filter(week__phase=phase)
        .with_done(user)
        .filter(is_done=False)
    )
    if user is not None and not open_tasks.exists():
        notify_phase_done(user=user, phase=phase)


def connect() -> None:
    from django.db.models.signals import post_save

    from portal.curriculum.models import ItemProgress
    from portal.labs.signals import run_finished

    run_finished.connect(on_run_finished, dispatch_uid="feishu.on_run_finished")
    post_save.connect(
        on_item_progress_saved, sender=ItemProgress, dispatch_uid="feishu.on_item_progress_saved"
    )
