"""Celery jobs of the knowledge base: embedding one document, syncing the other apps' sources."""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1900)
def embed_document_task(document_id: int) -> dict[str, object]:
    """Embed one document; progress is stored on the row (the page polls it)."""
    from portal.knowledge.services import embed_document, mark_document_failed

    try:
        doc = embed_document(document_id)
    except Exception as exc:
        log.exception("embedding document %s failed", document_id)
        mark_document_failed(document_id, f"{type(exc).__name__}: {exc}")
        return {"document": document_id, "status": "failed"}
    return {"document": document_id, "status": doc.status if doc else "missing"}


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def sync_sources_task() -> dict[str, int]:
    """Ingest the plan, curriculum, papers and lab reports (beat, `manage.py up`, POST /api/kb/sync)."""
    from portal.knowledge.sources import sync_sources

    return sync_sources()
