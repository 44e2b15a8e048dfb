"""Notifications from the other apps: lab runs finishing, phases completed, the weekly-review
reminder; the transactional ones delivered by a real worker to the fake Feishu."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone

from portal.curriculum.models import Item, Phase, Week
from portal.curriculum.schemas import ReviewIn
from portal.curriculum.services import save_review, set_item_done, set_start_date
from portal.feishu import services
from portal.feishu.digest import send_due_digests
from portal.feishu.models import FeishuBinding, Notification, NotificationStatus
from portal.knowledge.models import Document, DocumentStatus, Source
from portal.labs import runner
from portal.labs.models import Run, RunStatus
from portal.labs.services import finish_run, start_run
from tests.feishu.conftest import wait_until


def queued_run(owner, **params: Any) -> Run:  # noqa: ANN001
    """A queued pipeline-check run, created as launch_run does but not sent to a lab worker
    (the test runs it in-process with the platform's own runner)."""
    return Run.objects.create(
        owner=owner,
        lab_id="pipeline-check",
        params={"events_per_second": 50, "duration_s": 0.1, **params},
        queue="cpu",
        time_limit_s=60,
        soft_time_limit_s=50,
    )


def card_text(card: dict[str, Any]) -> str:
    return card["body"]["elements"][0]["content"]


def card_title(card: dict[str, Any]) -> str:
    return card["header"]["title"]["content"]


def button_urls(card: dict[str, Any]) -> list[str]:
    return [
        col["elements"][0]["behaviors"][0].get("default_url")
        for col in card["body"]["elements"][1]["columns"]
    ]


@pytest.mark.parametrize(
    ("params", "status", "template", "expect"),
    [
        ({}, RunStatus.SUCCEEDED, "green", "- events: 5"),
        ({"fail_at_s": 0}, RunStatus.FAILED, "red", "RuntimeError: failing on purpose"),
    ],
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("feishu_worker")
def test_a_finished_lab_run_is_sent_to_its_owner_and_its_report_ingested(
    fake_feishu, bound_owner, params, status, template, expect
):
    run = queued_run(bound_owner, **params)
    assert runner.execute_run(run.pk, worker="feishu-test") == status

    sent = fake_feishu.wait_for("/open-apis/im/v1/messages", 1)[0]
    assert sent.body["receive_id"] == "ou_owner"
    card = sent.content
    assert f"#{run.pk}" in card_title(card)
    assert card["header"]["template"] == template
    assert expect in card_text(card)
    assert button_urls(card) == [f"http://portal.test/labs/runs/{run.pk}/"]
    notification = Notification.objects.get(user=bound_owner)
    assert notification.kind == f"lab_run_{'finished' if status == 'succeeded' else 'failed'}"
    # Feishu's idempotency key: a retry of this send would not be a second message
    created_ms = int(notification.created_at.timestamp() * 1000)
    assert sent.body["uuid"] == f"notify-{notification.pk}-{created_ms}"
    wait_until(
        lambda: Notification.objects.get(pk=notification.pk).status == NotificationStatus.SENT,
        what="notification marked sent",
    )
    # the report is in the knowledge base at once, for the owner only
    doc = Document.objects.get(source=Source.LAB_REPORT, source_key=f"run:{run.pk}")
    assert doc.owner == bound_owner
    assert ("events: 5" if status == "succeeded" else "failing on purpose") in doc.content
    wait_until(
        lambda: Document.objects.get(pk=doc.pk).status == DocumentStatus.READY,
        what="the report embedded by the worker",
    )


def _finish(run: Run, status: RunStatus, django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    with django_capture_on_commit_callbacks(execute=True):
        start_run(run_id=run.pk, worker="w", device={})
        finish_run(
            run_id=run.pk,
            status=status,
            result={"events": 5, "elapsed_s": 0.125, "rate": 40.0},
            error="",
        )


@pytest.mark.django_db
def test_no_run_notification_without_a_binding_with_events_off_or_for_a_cancelled_run(
    owner, other_user, django_capture_on_commit_callbacks
):
    FeishuBinding.objects.create(user=other_user, open_id="ou_other", notify_events=False)
    _finish(queued_run(owner), RunStatus.SUCCEEDED, django_capture_on_commit_callbacks)
    _finish(queued_run(other_user), RunStatus.FAILED, django_capture_on_commit_callbacks)
    FeishuBinding.objects.create(user=owner, open_id="ou_owner")
    _finish(queued_run(owner), RunStatus.CANCELLED, django_capture_on_commit_callbacks)
    assert not Notification.objects.exists()
    # without a notification the reports wait for the periodic sync (no embedding job now)
    assert not Document.objects.filter(source=Source.LAB_REPORT).exists()
    run = queued_run(owner)
    _finish(run, RunStatus.SUCCEEDED, django_capture_on_commit_callbacks)
    assert Notification.objects.get().kind == "lab_run_finished"
    assert Document.objects.get(source=Source.LAB_REPORT).source_key == f"run:{run.pk}"


@pytest.mark.django_db
def test_a_failing_receiver_never_breaks_finishing_a_run(
    bound_owner, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("feishu is down")

    monkeypatch.setattr(services, "notify_run_finished", broken)
    run = queued_run(bound_owner)
    with caplog.at_level(logging.ERROR, logger="portal.labs.services"):
        _finish(run, RunStatus.SUCCEEDED, django_capture_on_commit_callbacks)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert "feishu is down" in caplog.text


@pytest.mark.django_db
def test_ticking_the_last_task_of_a_phase_sends_one_congratulation(
    plan, bound_owner, django_capture_on_commit_callbacks
):
    phase = Phase.objects.get(number=1)
    tasks = list(Item.objects.active().tasks().filter(week__phase=phase))
    with django_capture_on_commit_callbacks(execute=True):
        for item in tasks[:-1]:
            set_item_done(user=bound_owner, item=item, done=True)
    assert not Notification.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        set_item_done(user=bound_owner, item=tasks[-1], done=True)
    sent = Notification.objects.get()
    assert sent.kind == "phase_done"
    assert phase.title in card_title(sent.card)
    assert phase.milestone in card_text(sent.card)
    # unticking and ticking again does not congratulate twice
    with django_capture_on_commit_callbacks(execute=True):
        set_item_done(user=bound_owner, item=tasks[-1], done=False)
        set_item_done(user=bound_owner, item=tasks[-1], done=True)
    assert Notification.objects.count() == 1


def _sunday_evening_in_week_2(user) -> dt.datetime:  # noqa: ANN001
    """A digest time on the last day of the user's plan week 2."""
    now = dt.datetime(2026, 11, 29, 20, 0, tzinfo=ZoneInfo(django_settings.TIME_ZONE))
    set_start_date(user=user, start_date=now.date() - dt.timedelta(days=13))
    return now


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("feishu_worker")
def test_a_missing_weekly_review_is_reminded_with_the_digest_through_feishu(
    fake_feishu, bound_owner
):
    call_command("loadcurriculum", verbosity=0)
    now = _sunday_evening_in_week_2(bound_owner)
    FeishuBinding.objects.filter(user=bound_owner).update(
        digest_weekday=now.weekday(), digest_hour=now.hour
    )
    ticked = Item.objects.active().tasks().filter(week__number=2).in_plan_order().first()
    set_item_done(user=bound_owner, item=ticked, done=True)

    assert send_due_digests(now=now) == 2
    assert send_due_digests(now=now) == 0  # beat runs hourly: once a week each
    sent = fake_feishu.wait_for("/open-apis/im/v1/messages", 2)
    cards = {card_title(s.content): s.content for s in sent}
    assert all(s.body["receive_id"] == "ou_owner" for s in sent)
    reminder = next(c for t, c in cards.items() if c["header"]["template"] == "orange")
    assert Week.objects.get(number=2).title in card_text(reminder)
    assert ticked.title in card_text(reminder)
    assert button_urls(reminder) == ["http://portal.test/curriculum/reviews/2/"]
    binding = FeishuBinding.objects.get(user=bound_owner)
    assert binding.last_review_reminder_at is not None and binding.last_digest_at is not None


@pytest.mark.django_db
def test_no_reminder_once_the_review_is_written_or_when_reminders_are_off(
    plan, bound_owner, other_user, django_capture_on_commit_callbacks
):
    now = _sunday_evening_in_week_2(bound_owner)
    FeishuBinding.objects.filter(user=bound_owner).update(
        digest_weekday=now.weekday(), digest_hour=now.hour
    )
    save_review(user=bound_owner, week=2, review=ReviewIn(completed=["环境配好"]))
    # another user owes a review but turned reminders (and the digest) off
    _sunday_evening_in_week_2(other_user)
    FeishuBinding.objects.create(
        user=other_user,
        open_id="ou_other",
        digest_weekday=now.weekday(),
        digest_hour=now.hour,
        digest_enabled=False,
        review_reminder=False,
    )
    with django_capture_on_commit_callbacks():
        assert send_due_digests(now=now) == 1
    digest = Notification.objects.get()
    assert digest.kind == "digest"
    assert "环境配好" in card_text(digest.card)  # the last review's summary


@pytest.mark.django_db
def test_the_review_due_is_last_weeks_early_in_a_week_and_none_before_the_plan_starts(plan, owner):
    from portal.feishu.sources import review_due

    today = timezone.localdate()
    assert review_due(owner, today) is None  # no start date
    set_start_date(user=owner, start_date=today + dt.timedelta(days=3))
    assert review_due(owner, today) is None
    set_start_date(user=owner, start_date=today - dt.timedelta(days=7 * 4 + 1))  # week 5, day 2
    assert review_due(owner, today).week == 4
    set_start_date(user=owner, start_date=today - dt.timedelta(days=7 * 4 + 5))  # week 5, day 6
    assert review_due(owner, today).week == 5
    set_start_date(user=owner, start_date=today - dt.timedelta(days=7 * 20))  # after week 16
    assert review_due(owner, today).week == 16
