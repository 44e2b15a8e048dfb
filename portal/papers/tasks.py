"""Background jobs: arXiv syncs, watch queries (periodic, see apps.py) and embeddings."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def sync_papers_task(sync_run_id: int) -> str:
    """Run a queued sync; a run that is no longer queued (done, or taken by another worker) is left."""
    from portal.papers.models import SyncRun, SyncStatus
    from portal.papers.services import sync_papers

    updated = SyncRun.objects.filter(pk=sync_run_id, status=SyncStatus.QUEUED).update(
        status=SyncStatus.RUNNING
    )
    if not updated:
        return "skipped"
    run = sync_papers(run=SyncRun.objects.get(pk=sync_run_id))
    return run.status


@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1860)
def run_watch_queries_task() -> int:
    """The periodic job: every active watch query, new results into their owners' inboxes."""
    from portal.papers.services import run_watch_queries

    runs = run_watch_queries()
    failed = [run for run in runs if run.error]
    if failed:
        logger.warning("%d of %d watch queries failed", len(failed), len(runs))
    return len(runs)


@shared_task(acks_late=True, soft_time_limit=300, time_limit=330)
def run_watch_query_task(watch_id: int) -> str:
    from portal.papers.models import WatchQuery
    from portal.papers.services import run_watch_query

    watch = WatchQuery.objects.filter(pk=watch_id).first()
    if watch is None:
        return "gone"
    return run_watch_query(watch=watch).status


@shared_task(acks_late=True, soft_time_limit=900, time_limit=960)
def embed_papers_task(paper_ids: list[int]) -> int:
    """Embed papers whose text changed; running it twice embeds nothing the second time."""
    from portal.papers.services import embed_papers

    return embed_papers(paper_ids=paper_ids)
