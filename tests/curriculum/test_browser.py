from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from portal.curriculum.models import Item, ItemProgress, WeeklyReview
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _login(page, base: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("input[name=username]", "learner")
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(base + "/dashboard/")


def test_ticking_an_item_updates_progress_without_a_reload_and_a_review_exports(
    page, asgi_server, tmp_path
):
    call_command("loadcurriculum", verbosity=0)
    user = User.objects.create_user("learner", "l@example.com", PASSWORD)
    _login(page, asgi_server)

    page.goto(asgi_server + "/curriculum/weeks/1/")
    percent = page.get_by_test_id("overall-percent")
    assert percent.inner_text() == "0.0"
    page.evaluate("window.__sameDocument = true")

    page.get_by_test_id("tick-w01-install-python").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=overall-percent]').textContent !== '0.0'"
    )
    total = Item.objects.active().count()
    assert percent.inner_text() == str(round(100 / total, 1))
    assert page.locator("#week-count").inner_text().startswith("1 / ")
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert ItemProgress.objects.get(user=user, item__slug="w01-install-python").done

    page.goto(asgi_server + "/curriculum/reviews/1/")
    page.fill("textarea[name=completed]", "安装Python 3.10+\nMNIST 98.7%")
    page.fill("input[name=problem_0]", "没有 GPU")
    page.fill("input[name=solution_0]", "用 Kaggle Notebooks")
    page.fill("textarea[name=next_plan]", "装饰器练习")
    page.fill("input[name=hours_theory]", "6")
    page.fill("input[name=hours_practice]", "8")
    page.locator("#review-form button[type=submit]").click()
    page.wait_for_selector("[data-testid=review-markdown]")
    assert WeeklyReview.objects.get(user=user, week=1).completed == [
        "安装Python 3.10+",
        "MNIST 98.7%",
    ]

    with page.expect_download() as info:
        page.get_by_test_id("export-review").click()
    path = tmp_path / "review.md"
    info.value.save_as(path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("## 第1周复盘")
    assert "- 问题1：没有 GPU\n  - 解决方案：用 Kaggle Notebooks" in text
    assert "- [ ] 装饰器练习" in text
