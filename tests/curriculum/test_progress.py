from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.curriculum import evidence
from portal.curriculum.models import Item, ItemProgress, StudyPlan
from portal.curriculum.progress import (
    TrackStatus,
    _on_track,
    _streak,
    compute_progress,
    current_week,
)
from portal.curriculum.schemas import ReviewIn
from portal.curriculum.services import save_review, set_item_done
from tests.curriculum.conftest import review_payload

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 3, 2)


def test_current_week_is_counted_from_the_start_date():
    start = dt.date(2026, 1, 5)
    assert current_week(None, TODAY) is None
    assert current_week(start, start - dt.timedelta(days=1)) == 0
    assert current_week(start, start) == 1
    assert current_week(start, start + dt.timedelta(days=6)) == 1
    assert current_week(start, start + dt.timedelta(days=7)) == 2
    assert current_week(start, start + dt.timedelta(days=7 * 16)) == 17


def test_on_track_spreads_the_current_weeks_tasks_over_its_days():
    totals = {w: 7 for w in range(1, 17)}
    start = TODAY - dt.timedelta(days=7 + 2)  # day 3 of week 2
    track = _on_track(start, TODAY, totals, done=7)
    assert (track.current_week, track.expected, track.status, track.behind) == (
        2,
        10,
        TrackStatus.BEHIND,
        3,
    )
    track = _on_track(start, TODAY, totals, done=12)
    assert (track.status, track.ahead) == (TrackStatus.ON_TRACK, 2)
    assert _on_track(None, TODAY, totals, done=3).status == TrackStatus.NO_START
    assert (
        _on_track(TODAY + dt.timedelta(days=1), TODAY, totals, done=0).status
        == TrackStatus.NOT_STARTED
    )
    late = _on_track(TODAY - dt.timedelta(days=200), TODAY, totals, done=112)
    assert late.status == TrackStatus.FINISHED and late.expected == 112


def test_the_streak_counts_consecutive_days_ending_today_or_yesterday():
    days = {
        TODAY,
        TODAY - dt.timedelta(days=1),
        TODAY - dt.timedelta(days=2),
        TODAY - dt.timedelta(days=5),
    }
    assert _streak(days, TODAY) == 3
    assert _streak(days - {TODAY}, TODAY) == 2
    assert _streak(set(), TODAY) == 0


def test_hours_are_summed_by_category_and_compared_with_the_plan(owner, plan):
    save_review(user=owner, week=1, review=ReviewIn.model_validate(review_payload()))
    save_review(
        user=owner,
        week=2,
        review=ReviewIn.model_validate(review_payload(hours={"theory": 4, "practice": 12})),
    )
    progress = compute_progress(owner)
    assert progress.hours == {"theory": 10.0, "practice": 20.0, "papers": 3.0, "demo": 3.0}
    assert progress.hours_total == 36.0
    assert progress.hours_share["practice"] == round(100 * 20 / 36, 1)


def test_archived_items_leave_the_totals_but_their_ticks_stay_stored(owner, task):
    set_item_done(user=owner, item=task, done=True)
    before = compute_progress(owner)
    task.archived = True
    task.save(update_fields=["archived"])
    after = compute_progress(owner)
    assert after.total == before.total - 1 and after.done == before.done - 1
    assert ItemProgress.objects.filter(user=owner, item=task, done=True).exists()


def test_papers_read_come_from_a_registered_provider(owner, plan):
    assert not compute_progress(owner).papers_read  # nothing read yet
    evidence.register_paper_provider(
        read_arxiv_ids=lambda user: {"2205.14135", "2210.17323"} if user == owner else set(),
        paper_url=lambda arxiv_id: f"/papers/{arxiv_id}/",
    )
    assert compute_progress(owner).papers_read == 2
    assert evidence.paper_url("2205.14135") == "/papers/2205.14135/"


def test_skill_evidence_uses_lab_runs_and_papers_from_providers(owner_client, owner, plan):
    evidence.register_paper_provider(read_arxiv_ids=lambda user: {"2210.17323"})
    evidence.register_lab_runs_provider(
        lambda user, lab_ids: (
            [
                evidence.LabRunEvidence(
                    lab_id="llm-quant", run_id=42, status="succeeded", url="/labs/runs/42/"
                )
            ]
            if "llm-quant" in lab_ids
            else []
        )
    )
    text = owner_client.get(reverse("curriculum:skills_md")).content.decode()
    section = text[text.index("掌握1种量化技术") :].split("###")[0]
    assert "运行 #42（succeeded） /labs/runs/42/" in section
    # The paper links to the tracker's page (the papers app is installed), else to arXiv.
    assert "GPTQ" in section and "(arXiv:2210.17323) /papers/2210.17323/" in section
    assert "已读核心论文：1 篇" in text


def _make_history(user: User, ticks: int, reviews: int) -> None:
    items = list(Item.objects.active().order_by("pk")[:ticks])
    now = timezone.now()
    ItemProgress.objects.bulk_create(
        [
            ItemProgress(user=user, item=item, done=True, done_at=now - dt.timedelta(days=n % 30))
            for n, item in enumerate(items)
        ]
    )
    for week in range(1, reviews + 1):
        save_review(user=user, week=week, review=ReviewIn.model_validate(review_payload()))


def _dashboard_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_dashboard_costs_the_same_number_of_queries_for_little_and_much_history(
    owner_client, owner, other_user, plan
):
    StudyPlan.objects.create(user=owner, start_date=timezone.localdate() - dt.timedelta(days=40))
    _make_history(owner, ticks=2, reviews=1)
    small = _dashboard_queries(owner_client)
    ItemProgress.objects.filter(user=owner).delete()
    _make_history(owner, ticks=150, reviews=16)
    _make_history(other_user, ticks=100, reviews=5)
    large = _dashboard_queries(owner_client)
    assert small == large
    # The whole dashboard: session, user, the curriculum panel and the other apps' panels
    # (papers, labs, Feishu), each a fixed handful of queries.
    assert large <= 20


def test_the_progress_api_costs_a_constant_number_of_queries(
    api, owner, plan, django_assert_num_queries
):
    _make_history(owner, ticks=3, reviews=1)
    api.get("/api/curriculum/progress")  # the token's first use records last_used_at
    with CaptureQueriesContext(connection) as small:
        api.get("/api/curriculum/progress")
    _make_history(owner, ticks=0, reviews=16)
    ItemProgress.objects.filter(user=owner).delete()
    _make_history(owner, ticks=160, reviews=0)
    with django_assert_num_queries(len(small.captured_queries)):
        api.get("/api/curriculum/progress")
