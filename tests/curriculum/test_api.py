from __future__ import annotations

import datetime as dt
import json
from http import HTTPStatus

import pytest
from django.test import Client
from django.utils import timezone

from portal.curriculum.models import Item, ItemProgress, StudyPlan, WeeklyReview
from portal.curriculum.services import set_item_done
from tests.curriculum.conftest import review_payload

pytestmark = pytest.mark.django_db

API = "/api/curriculum"


def put(client: Client, url: str, body: dict | str):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.put(url, data, content_type="application/json")


def test_weeks_lists_sixteen_weeks_with_phase_title_and_goals(api, plan):
    response = api.get(f"{API}/weeks")
    assert response.status_code == HTTPStatus.OK
    weeks = response.json()
    assert [w["number"] for w in weeks] == list(range(1, 17))
    assert weeks[0]["phase"] == 1 and weeks[15]["phase"] == 4
    assert weeks[9]["title"] and weeks[9]["goals"]
    assert all(w["start_date"] is None and not w["current"] for w in weeks)


def test_weeks_mark_the_current_week_from_the_start_date(api, owner, plan):
    StudyPlan.objects.create(user=owner, start_date=timezone.localdate() - dt.timedelta(days=15))
    weeks = api.get(f"{API}/weeks").json()
    assert [w["number"] for w in weeks if w["current"]] == [3]


def test_checklist_has_ids_and_done_flags_for_this_user_only(api, owner, other_user, task, goal):
    set_item_done(user=other_user, item=goal, done=True)
    set_item_done(user=owner, item=task, done=True)
    items = {i["id"]: i for i in api.get(f"{API}/checklist").json()}
    assert len(items) == Item.objects.active().count()
    assert items[task.pk]["done"] is True and items[task.pk]["done_at"]
    assert items[goal.pk]["done"] is False  # the other user's tick is not ours


def test_checklist_filters_by_kind_and_week_and_refuses_unknown_ones(api, plan):
    skills = api.get(f"{API}/checklist?kind=skill").json()
    assert len(skills) == 15 and {i["kind"] for i in skills} == {"skill"}
    week8 = api.get(f"{API}/checklist?week=8").json()
    assert week8 and {i["week"] for i in week8} == {8}
    assert api.get(f"{API}/checklist?week=17").status_code == HTTPStatus.NOT_FOUND
    assert api.get(f"{API}/checklist?kind=nope").status_code == HTTPStatus.NOT_FOUND


def test_put_item_ticks_and_unticks_with_a_timestamp(api, owner, task):
    response = put(api, f"{API}/items/{task.pk}", {"done": True})
    assert response.status_code == HTTPStatus.OK
    assert response.json()["done"] is True
    progress = ItemProgress.objects.get(user=owner, item=task)
    assert progress.done and progress.done_at is not None
    first_tick = progress.done_at

    put(api, f"{API}/items/{task.pk}", {"done": True})  # idempotent: the first tick's time stays
    progress.refresh_from_db()
    assert progress.done_at == first_tick

    assert put(api, f"{API}/items/{task.pk}", {"done": False}).json()["done"] is False
    progress.refresh_from_db()
    assert not progress.done and progress.done_at is None


def test_put_item_refuses_unknown_items_and_bad_bodies(api, task):
    response = put(api, f"{API}/items/999999", {"done": True})
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "999999" in response.json()["detail"]
    assert (
        put(api, f"{API}/items/{task.pk}", {"done": "yes"}).status_code
        == HTTPStatus.UNPROCESSABLE_ENTITY
    )
    assert put(api, f"{API}/items/{task.pk}", {}).status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert put(api, f"{API}/items/{task.pk}", "not json").status_code == HTTPStatus.BAD_REQUEST
    task.archived = True
    task.save(update_fields=["archived"])
    assert put(api, f"{API}/items/{task.pk}", {"done": True}).status_code == HTTPStatus.NOT_FOUND


def test_progress_reports_overall_per_phase_and_on_track(api, owner, plan):
    StudyPlan.objects.create(user=owner, start_date=timezone.localdate() - dt.timedelta(days=7))
    for item in Item.objects.filter(week__number=1):
        set_item_done(user=owner, item=item, done=True)
    body = api.get(f"{API}/progress").json()
    week1 = Item.objects.filter(week__number=1).count()
    total = Item.objects.active().count()
    assert body["done"] == week1 and body["total"] == total
    assert body["percent"] == round(100 * week1 / total, 1)
    assert [p["number"] for p in body["phases"]] == [1, 2, 3, 4]
    assert body["phases"][0]["done"] == week1 and body["phases"][1]["done"] == 0
    track = body["on_track"]
    # Day 1 of week 2: all of week 1 plus 1/7 of week 2 are due.
    week2 = Item.objects.filter(week__number=2).count()
    assert track["current_week"] == 2
    assert track["expected"] == week1 + -(-week2 // 7)
    assert track["status"] == "behind" and track["behind"] == track["expected"] - week1
    assert body["goals"]["skill"]["total"] == 15 and body["goals"]["output"]["total"] == 12
    assert body["streak"] == 1
    assert body["papers_goal"] == 20


def test_put_and_get_a_review_round_trips(api, owner, plan):
    response = put(api, f"{API}/reviews/3", review_payload())
    assert response.status_code == HTTPStatus.CREATED
    body = api.get(f"{API}/reviews/3").json()
    assert body["week"] == 3
    assert body["completed"] == review_payload()["completed"]
    assert body["problems"] == review_payload()["problems"]
    assert body["hours"] == {"theory": 6.0, "practice": 8.0, "papers": 3.0, "demo": 3.0}

    again = put(api, f"{API}/reviews/3", review_payload(next_plan=["只剩一项"]))
    assert again.status_code == HTTPStatus.OK
    assert WeeklyReview.objects.filter(user=owner).count() == 1
    assert WeeklyReview.objects.get(user=owner, week=3).next_plan == ["只剩一项"]


def test_review_markdown_follows_the_weekly_review_template(api, owner, plan):
    StudyPlan.objects.create(user=owner, start_date=dt.date(2026, 1, 5))
    put(api, f"{API}/reviews/2", review_payload())
    response = api.get(f"{API}/reviews/2.md")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("text/markdown")
    text = response.content.decode()
    assert text.startswith("## 第2周复盘 (2026-01-12 ~ 2026-01-18)\n")
    assert "### 本周完成\n- [x] 安装Python 3.10+\n" in text
    assert (
        "### 遇到的问题\n- 问题1：CUDA 版本与驱动不匹配\n  - 解决方案：改装 CPU 版 PyTorch，用 Colab 跑 GPU\n"
        in text
    )
    assert "### 下周计划\n- [ ] 装饰器练习\n- [ ] asyncio 并发请求器\n" in text
    assert "- 理论学习：6 小时（30%，计划 30%）" in text


def test_all_reviews_export_as_one_markdown_document(api, plan):
    put(api, f"{API}/reviews/1", review_payload())
    put(api, f"{API}/reviews/2", review_payload(completed=["第二周"]))
    text = api.get(f"{API}/reviews.md").content.decode()
    assert text.index("## 第1周复盘") < text.index("## 第2周复盘")
    assert len(api.get(f"{API}/reviews").json()) == 2


@pytest.mark.parametrize("week", [0, 17, 99])
def test_reviews_outside_weeks_1_to_16_are_refused_with_a_message(api, plan, week):
    response = put(api, f"{API}/reviews/{week}", review_payload())
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "1-16" in response.json()["detail"]
    assert api.get(f"{API}/reviews/{week}").status_code == HTTPStatus.NOT_FOUND
    assert api.get(f"{API}/reviews/{week}.md").status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize(
    "bad",
    [
        {"completed": ["x" * 2001]},
        {"completed": ["x"] * 51},
        {"problems": [{"problem": "", "solution": "x"}]},
        {"problems": [{"problem": "p", "solution": "s" * 2001}]},
        {"hours": {"theory": -1}},
        {"hours": {"theory": 100, "practice": 100}},
        {"hours": {"theory": "many"}},
        {"completed": "not a list"},
    ],
)
def test_oversized_or_malformed_reviews_get_422_and_store_nothing(api, plan, bad):
    response = put(api, f"{API}/reviews/4", review_payload(**bad))
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["detail"]
    assert not WeeklyReview.objects.exists()


def test_a_missing_review_is_404_not_someone_elses(api, other_user, plan):
    other = Client()
    other.force_login(other_user)
    # The other user writes week 5 through the session API (CSRF is off in the test client).
    assert put(other, f"{API}/reviews/5", review_payload()).status_code == HTTPStatus.CREATED
    assert api.get(f"{API}/reviews/5").status_code == HTTPStatus.NOT_FOUND
    assert api.get(f"{API}/reviews/5.md").status_code == HTTPStatus.NOT_FOUND
    assert api.get(f"{API}/reviews").json() == []


@pytest.mark.parametrize(
    "method,url",
    [
        ("get", "/weeks"),
        ("get", "/checklist"),
        ("put", "/items/1"),
        ("get", "/progress"),
        ("get", "/reviews/1"),
        ("put", "/reviews/1"),
        ("get", "/reviews/1.md"),
        ("get", "/reviews.md"),
        ("put", "/start"),
    ],
)
def test_every_endpoint_needs_authentication(client, plan, method, url):
    response = getattr(client, method)(f"{API}{url}", content_type="application/json")
    assert response.status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize(
    "method,url", [("post", "/items/1"), ("delete", "/reviews/1"), ("post", "/weeks")]
)
def test_wrong_methods_are_refused(api, plan, method, url):
    assert getattr(api, method)(f"{API}{url}").status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_start_date_can_be_set_through_the_api(api, owner, plan):
    response = put(api, f"{API}/start", {"start_date": "2026-01-05"})
    assert response.status_code == HTTPStatus.OK
    assert StudyPlan.objects.get(user=owner).start_date == dt.date(2026, 1, 5)
    assert (
        put(api, f"{API}/start", {"start_date": "soon"}).status_code
        == HTTPStatus.UNPROCESSABLE_ENTITY
    )


def test_session_clients_need_a_csrf_token_to_write(owner, task):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = put(client, f"{API}/items/{task.pk}", {"done": True})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert not ItemProgress.objects.exists()
