"""The relay's claims: each stored event queued once, a failed queueing tried again.

These run inside the test's transaction, so no other relay (the Feishu tests' worker runs
one) sees the rows; the LISTEN/NOTIFY path itself is exercised end to end by
test_bot_pipeline (its worker's relay queues every answer) and by the PostgreSQL and Redis
outages of tests/reliability/test_real_outages.py.
"""

from __future__ import annotations

import pytest
from django.db import connection

from portal.feishu.events import record_event
from portal.feishu.models import EventStatus, FeishuEvent
from portal.feishu.relay import queue_claimed

pytestmark = pytest.mark.django_db


def store(event_id: str) -> int:
    pk, _event_id, created = record_event({"header": {"event_id": event_id, "event_type": "t"}})
    assert created
    return pk


def test_each_stored_event_is_claimed_and_queued_once():
    first, second = store("relay-1"), store("relay-2")
    sent: list[int] = []
    with connection.cursor() as cursor:
        assert queue_claimed(cursor, [first], sent.append) == [first]
        # The sweep finds the other one; the first is claimed already, by this relay or another.
        assert queue_claimed(cursor, None, sent.append) == [second]
        assert queue_claimed(cursor, [first, second], sent.append) == []
        assert queue_claimed(cursor, None, sent.append) == []
    assert sent == [first, second]
    assert not FeishuEvent.objects.filter(queued_at__isnull=True).exists()


def test_a_retried_delivery_is_not_queued_again():
    pk = store("relay-dup")
    with connection.cursor() as cursor:
        assert queue_claimed(cursor, None, lambda _pk: None) == [pk]
    _pk, _event_id, created = record_event({"header": {"event_id": "relay-dup"}})
    assert not created
    with connection.cursor() as cursor:
        assert queue_claimed(cursor, None, lambda _pk: None) == []
    assert FeishuEvent.objects.get(pk=pk).deliveries == 2


def test_an_answered_event_is_never_queued():
    pk = store("relay-done")
    FeishuEvent.objects.filter(pk=pk).update(status=EventStatus.DONE)
    with connection.cursor() as cursor:
        assert queue_claimed(cursor, [pk], lambda _pk: None) == []
        assert queue_claimed(cursor, None, lambda _pk: None) == []


def test_events_whose_queueing_failed_are_given_back_and_queued_by_the_next_sweep():
    ids = [store(f"relay-down-{i}") for i in range(3)]
    sent: list[int] = []

    def broker_down_after_one(pk: int) -> None:
        if sent:
            raise ConnectionError("Redis is down")
        sent.append(pk)

    with connection.cursor() as cursor:
        assert queue_claimed(cursor, None, broker_down_after_one) == ids[:1]
        unclaimed = FeishuEvent.objects.filter(queued_at__isnull=True)
        assert sorted(unclaimed.values_list("pk", flat=True)) == ids[1:]
        # Redis is back: the next sweep queues the two left.
        assert queue_claimed(cursor, None, sent.append) == ids[1:]
    assert sent == ids


def test_the_events_table_notifies_the_relay_on_insert_only():
    """The trigger migration 0004 installs: one NOTIFY per new event, on commit."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
            "WHERE tgrelid = 'feishu_feishuevent'::regclass AND NOT tgisinternal"
        )
        ((name, definition),) = cursor.fetchall()
    assert name == "feishu_event_notify"
    assert "AFTER INSERT" in definition and "FOR EACH ROW" in definition
