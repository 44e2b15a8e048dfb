from __future__ import annotations

import datetime as dt
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.curriculum.models import ItemProgress, StudyPlan, WeeklyReview
from portal.curriculum.schemas import ReviewIn
from portal.curriculum.services import save_review, set_item_done
from tests.curriculum.conftest import review_payload

pytestmark = pytest.mark.django_db

PAGES = [
    ("curriculum:index", []),
    ("curriculum:week", [10]),
    ("curriculum:goals", []),
    ("curriculum:reviews", []),
    ("curriculum:review", [1]),
    ("curriculum:skills", []),
    ("curriculum:guide", []),
    ("curriculum:reviews_md", []),
    ("curriculum:skills_md", []),
]


@pytest.mark.parametrize("name,args", PAGES)
def test_pages_need_a_login(client, plan, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name,args", PAGES)
def test_pages_render_for_the_owner(owner_client, plan, name, args):
    assert owner_client.get(reverse(name, args=args)).status_code == HTTPStatus.OK


def test_the_timeline_highlights_the_current_week(owner_client, owner, plan):
    StudyPlan.objects.create(user=owner, start_date=timezone.localdate() - dt.timedelta(days=63))
    html = owner_client.get(reverse("curriculum:index")).content.decode()
    assert html.count('aria-current="step"') == 1
    current = html[html.index("week-card current") :][:400]
    assert reverse("curriculum:week", args=[10]) in current
    for phase in ("基础强化", "硬件优化", "大模型技术", "应用开发"):
        assert phase in html


def test_the_week_page_shows_goals_resources_tasks_project_and_readings(
    owner_client, plan, monkeypatch
):
    from portal.labs import registry

    monkeypatch.setattr(
        registry, "_registry", {k: v for k, v in registry._registry.items() if k != "kernels"}
    )
    html = owner_client.get(reverse("curriculum:week", args=[10])).content.decode()
    assert "自定义CUDA Kernel" in html
    assert "https://github.com/Dao-AILab/flash-attention" in html
    assert "/papers/2205.14135/" in html  # the paper tracker's page
    assert "实现简化版前向 FlashAttention" in html
    # With the kernel lab unregistered it is named, marked unavailable, not linked.
    assert "🧪 kernels" in html and "实验暂不可用" in html


def test_a_registered_lab_shows_its_title(owner_client, plan):
    from pydantic import BaseModel

    from portal.labs import registry

    class NoParams(BaseModel):
        pass

    lab = registry.Lab(
        id="kernels",
        title="Custom kernel lab",
        description="",
        params=NoParams,
        result=registry.LabResult,
        run=lambda p, c: {},
    )
    registry._registry.setdefault("kernels", lab)
    try:
        html = owner_client.get(reverse("curriculum:week", args=[10])).content.decode()
        assert str(registry.get_lab("kernels").title) in html
    finally:
        if registry._registry.get("kernels") is lab:
            del registry._registry["kernels"]


def test_week_17_is_a_404(owner_client, plan):
    assert (
        owner_client.get(reverse("curriculum:week", args=[17])).status_code == HTTPStatus.NOT_FOUND
    )
    assert (
        owner_client.get(reverse("curriculum:review", args=[17])).status_code
        == HTTPStatus.NOT_FOUND
    )


def test_setting_the_start_date_with_the_form(owner_client, owner, plan):
    response = owner_client.post(reverse("curriculum:start"), {"start_date": "2026-01-05"})
    assert response.status_code == HTTPStatus.FOUND
    assert StudyPlan.objects.get(user=owner).start_date == dt.date(2026, 1, 5)
    owner_client.post(reverse("curriculum:start"), {"start_date": "yesterday-ish"})
    assert StudyPlan.objects.get(user=owner).start_date == dt.date(2026, 1, 5)


def test_ticking_without_javascript_posts_and_redirects_back(owner_client, owner, task):
    week_url = reverse("curriculum:week", args=[1])
    response = owner_client.post(
        reverse("curriculum:toggle", args=[task.pk]), {"done": "on", "next": week_url}
    )
    assert response.status_code == HTTPStatus.FOUND and response["Location"] == week_url
    assert ItemProgress.objects.get(user=owner, item=task).done
    owner_client.post(
        reverse("curriculum:toggle", args=[task.pk]), {"next": "https://evil.example/"}
    )
    assert not ItemProgress.objects.get(user=owner, item=task).done


def test_an_offsite_next_is_ignored(owner_client, task):
    response = owner_client.post(
        reverse("curriculum:toggle", args=[task.pk]),
        {"done": "on", "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("curriculum:week", args=[1])


def test_ticking_with_htmx_returns_the_item_and_the_new_progress(owner_client, owner, task):
    response = owner_client.post(
        reverse("curriculum:toggle", args=[task.pk]), {"done": "on"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert f'id="item-{task.pk}"' in html and "tick-item done" in html
    assert 'id="curriculum-progress" class="progress-summary" hx-swap-oob="true"' in html
    assert '<span id="week-count" hx-swap-oob="true">1 / ' in html
    assert "<html" not in html


def test_ticking_a_goal_updates_the_goal_counter(owner_client, goal):
    html = owner_client.post(
        reverse("curriculum:toggle", args=[goal.pk]), {"done": "on"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert '<span id="goals-count-skill" hx-swap-oob="true">1 / 15</span>' in html


def test_toggle_refuses_get_and_unknown_items(owner_client, task):
    assert (
        owner_client.get(reverse("curriculum:toggle", args=[task.pk])).status_code
        == HTTPStatus.METHOD_NOT_ALLOWED
    )
    assert (
        owner_client.post(reverse("curriculum:toggle", args=[999999])).status_code
        == HTTPStatus.NOT_FOUND
    )


def test_one_users_ticks_never_show_for_another(owner_client, other_client, owner, task):
    owner_client.post(reverse("curriculum:toggle", args=[task.pk]), {"done": "on"})
    html = other_client.get(reverse("curriculum:week", args=[1])).content.decode()
    assert "tick-item done" not in html
    assert ItemProgress.objects.filter(item=task).count() == 1


def test_writing_a_review_with_the_form_and_editing_it(owner_client, owner, plan):
    url = reverse("curriculum:review", args=[2])
    form = {
        "completed": "装饰器练习\n\nasyncio 并发请求器\n",
        "problem_0": "GIL 让线程没有加速",
        "solution_0": "CPU 密集任务改用多进程",
        "problem_1": "",
        "solution_1": "",
        "next_plan": "C++ RAII",
        "hours_theory": "5",
        "hours_practice": "7.5",
        "hours_papers": "2",
        "hours_demo": "",
    }
    response = owner_client.post(url, form)
    assert response.status_code == HTTPStatus.FOUND
    review = WeeklyReview.objects.get(user=owner, week=2)
    assert review.completed == ["装饰器练习", "asyncio 并发请求器"]
    assert review.problems == [
        {"problem": "GIL 让线程没有加速", "solution": "CPU 密集任务改用多进程"}
    ]
    assert review.hours == {"theory": 5.0, "practice": 7.5, "papers": 2.0, "demo": 0.0}

    page = owner_client.get(url).content.decode()
    assert "GIL 让线程没有加速" in page and "## 第2周复盘" in page
    owner_client.post(url, {**form, "completed": "只剩一项"})
    review.refresh_from_db()
    assert review.completed == ["只剩一项"]


def test_a_bad_review_form_is_a_400_with_errors_and_stores_nothing(owner_client, plan):
    url = reverse("curriculum:review", args=[2])
    response = owner_client.post(
        url, {"completed": "x", "solution_0": "没有问题的解决方案", "hours_theory": "-2"}
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not WeeklyReview.objects.exists()
    response = owner_client.post(url, {"completed": "x" * 3000})
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_review_markdown_download_is_the_users_own(owner_client, other_client, owner, plan):
    save_review(user=owner, week=3, review=ReviewIn.model_validate(review_payload()))
    response = owner_client.get(reverse("curriculum:review_md", args=[3]))
    assert response.status_code == HTTPStatus.OK
    assert "attachment" in response["Content-Disposition"]
    assert response.content.decode().startswith("## 第3周复盘")
    assert (
        other_client.get(reverse("curriculum:review_md", args=[3])).status_code
        == HTTPStatus.NOT_FOUND
    )
    assert "第3周复盘" not in other_client.get(reverse("curriculum:reviews_md")).content.decode()


def test_the_skills_view_shows_ticked_tasks_as_evidence_and_exports_a_portfolio(
    owner_client, owner, plan
):
    from portal.curriculum.models import Item

    set_item_done(user=owner, item=Item.objects.get(slug="w08-int8"), done=True)
    set_item_done(user=owner, item=Item.objects.get(slug="skill-quantization"), done=True)
    html = owner_client.get(reverse("curriculum:skills")).content.decode()
    assert "INT8 权重量化并评估" in html
    text = owner_client.get(reverse("curriculum:skills_md")).content.decode()
    assert text.startswith("# 技术能力作品集 — owner")
    section = text[text.index("### [x] 掌握1种量化技术") :]
    assert "第8周 INT8 权重量化并评估" in section.split("###")[1]


def test_the_dashboard_shows_the_curriculum_panel_with_charts(owner_client, plan):
    html = owner_client.get(reverse("dashboard")).content.decode()
    assert 'id="panel-curriculum"' in html
    assert 'data-chart="hours"' in html and "curriculum-panel-charts" in html
    assert "chart-4.6.1.umd.min.js" in html
