"""A Redis outage does not fail writers that already stored their events.

Fast form with a patched channel layer; the real one (Redis restarted under a streaming
run) is tests/reliability/test_real_outages.py."""

import logging

import pytest
from channels.layers import get_channel_layer
from redis.exceptions import ConnectionError as RedisConnectionError

from portal.core.realtime import apublish, publish


@pytest.fixture
def layer_down(monkeypatch):
    layer = get_channel_layer()

    async def down(*args, **kwargs):
        raise RedisConnectionError("Error 2 connecting to redis.sock. No such file or directory.")

    monkeypatch.setattr(layer, "group_send", down)


def test_publish_logs_and_returns_when_the_channel_layer_is_down(layer_down, caplog):
    with caplog.at_level(logging.WARNING, logger="portal.core.realtime"):
        publish("labs.run.1", "run.events", {"events": []})
    assert "not published to labs.run.1" in caplog.text


async def test_apublish_logs_and_returns_when_the_channel_layer_is_down(layer_down, caplog):
    with caplog.at_level(logging.WARNING, logger="portal.core.realtime"):
        await apublish("labs.run.1", "run.events", {"events": []})
    assert "RedisConnectionError" in caplog.text or "ConnectionError" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_lab_keeps_storing_events_while_redis_is_down(layer_down, owner):
    from django.utils import timezone

    from portal.labs.models import Run, RunEvent
    from portal.labs.services import NewEvent, append_events

    run = Run.objects.create(
        owner=owner,
        lab_id="pipeline-check",
        params={},
        queue="cpu",
        time_limit_s=60,
        soft_time_limit_s=50,
    )
    append_events(run.pk, [NewEvent("log", {"text": "a"}, timezone.now())])
    append_events(run.pk, [NewEvent("log", {"text": "b"}, timezone.now())])

    assert list(RunEvent.objects.filter(run=run).values_list("seq", flat=True)) == [1, 2]
