"""Celery jobs: answering Feishu events, sending notifications, digests."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from portal.feishu import conf

log = logging.getLogger(__name__)

MAX_SEND_RETRIES = 5


def _retry_base() -> float:
    return conf.retry_base_s()


# A database outage while an event is answered: tried again every conf.db_retry_s() (5 s),
# this many times (about two minutes), instead of leaving it received and never answered.
DB_RETRIES = 24


@shared_task(bind=True, acks_late=True, max_retries=3, soft_time_limit=600, time_limit=660)
def process_event_task(self, event_pk: int) -> str:  # noqa: ANN001
    """Answer one stored Feishu event; a second run of a finished event does nothing.

    Losing PostgreSQL midway retries the job: the event stays `received`, and the reply
    carries an idempotency key, so a job retried after it replied does not reply twice.
    """
    from django.db import InterfaceError, OperationalError

    try:
        return _process_event(self, event_pk)
    except (OperationalError, InterfaceError) as exc:
        log.warning("event %s: database unavailable, retrying: %s", event_pk, exc)
        raise self.retry(
            exc=exc, countdown=conf.db_retry_s(), max_retries=DB_RETRIES, queue=conf.queue()
        ) from exc


def _process_event(self, event_pk: int) -> str:  # noqa: ANN001
    from portal.feishu.bot import process_message_event
    from portal.feishu.client import FeishuError
    from portal.feishu.models import EventStatus, FeishuEvent

    event = FeishuEvent.objects.filter(pk=event_pk).first()
    if event is None or event.status != EventStatus.RECEIVED:
        return "skipped"
    try:
        outcome = process_message_event(event.payload)
    except FeishuError as exc:
        if self.request.retries < self.max_retries:
            raise self.retry(
                exc=exc, countdown=_retry_base() * 2**self.request.retries, queue=conf.queue()
            ) from exc
        event.status, event.error = EventStatus.FAILED, str(exc)[:2000]
        event.processed_at = timezone.now()
        event.save(update_fields=["status", "error", "processed_at"])
        return "failed"
    except ValueError as exc:
        event.status, event.error = EventStatus.FAILED, str(exc)[:2000]
        event.processed_at = timezone.now()
        event.save(update_fields=["status", "error", "processed_at"])
        return "failed"
    event.status = EventStatus.IGNORED if outcome == "ignored" else EventStatus.DONE
    event.processed_at = timezone.now()
    event.save(update_fields=["status", "processed_at"])
    return outcome


@shared_task(
    bind=True, acks_late=True, max_retries=MAX_SEND_RETRIES, soft_time_limit=60, time_limit=90
)
def send_notification_task(self, notification_pk: int) -> str:  # noqa: ANN001
    """Deliver a notification; failures are recorded and retried with exponential backoff."""
    from portal.feishu.client import FeishuError
    from portal.feishu.models import Notification, NotificationStatus
    from portal.feishu.services import deliver_notification, record_attempt

    notification = Notification.objects.filter(pk=notification_pk).first()
    if notification is None or notification.status in {
        NotificationStatus.SENT,
        NotificationStatus.FAILED,
    }:
        return "skipped"
    try:
        deliver_notification(notification)
    except FeishuError as exc:
        final = self.request.retries >= self.max_retries
        record_attempt(notification, error=str(exc), final=final)
        if final:
            log.error("notification %s failed for good: %s", notification.pk, exc)
            return "failed"
        raise self.retry(
            exc=exc, countdown=_retry_base() * 2**self.request.retries, queue=conf.queue()
        ) from exc
    record_attempt(notification, error=None, final=True)
    return "sent"


@shared_task(acks_late=True, soft_time_limit=300, time_limit=330)
def weekly_digest_task() -> int:
    """Run hourly by beat: send the digest to users whose chosen day and hour is now."""
    from portal.feishu.digest import send_due_digests

    return send_due_digests(now=timezone.now().astimezone(ZoneInfo(settings.TIME_ZONE)))
