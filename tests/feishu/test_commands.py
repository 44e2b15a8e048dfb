"""/progress, /week, /papers and the "mark done" button on the real curriculum and papers."""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus
from typing import Any

import pytest
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.curriculum.models import Item, ItemProgress, Week
from portal.curriculum.progress import compute_progress
from portal.curriculum.services import set_item_done, set_start_date
from portal.feishu import bot
from portal.feishu.schemas import MessageEvent
from portal.papers.models import Paper, Reading, ReadingStatus
from tests.feishu.conftest import ENCRYPT_KEY, VERIFICATION_TOKEN
from tests.feishu.fakefeishu import message_event, signed_request

pytestmark = pytest.mark.django_db


def ask(text: str, open_id: str = "ou_owner") -> dict[str, Any]:
    return bot.handle_message(
        MessageEvent.from_payload(message_event(text=text, token="t", open_id=open_id))
    )


def body(card: dict[str, Any]) -> str:
    return card["body"]["elements"][0]["content"]


def buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    elements = card["body"]["elements"]
    if len(elements) < 2:
        return []
    return [col["elements"][0] for col in elements[1]["columns"]]


def in_week(number: int, day: int = 1) -> dt.date:
    """A start date that puts today on `day` (1-7) of plan week `number`."""
    return timezone.localdate() - dt.timedelta(days=7 * (number - 1) + day - 1)


def press(client, value: dict[str, Any], open_id: str = "ou_owner", event_id: str = "card-x"):  # noqa: ANN001, ANN201
    payload = {
        "schema": "2.0",
        "header": {
            "event_id": event_id,
            "event_type": "card.action.trigger",
            "token": VERIFICATION_TOKEN,
            "create_time": "1",
            "app_id": "cli",
            "tenant_key": "t",
        },
        "event": {
            "operator": {"open_id": open_id},
            "action": {"tag": "button", "value": value},
            "context": {"open_chat_id": "oc_owner", "open_message_id": "om_1"},
        },
    }
    data, headers = signed_request(payload, encrypt_key=ENCRYPT_KEY)
    return client.post(
        "/feishu/events", data=data, content_type="application/json", headers=headers
    )


def test_progress_shows_the_dashboards_numbers(plan, core_papers, bound_owner):
    set_start_date(user=bound_owner, start_date=in_week(1, day=3))
    for slug in ("w01-install-python", "w01-github-ssh"):
        set_item_done(user=bound_owner, item=Item.objects.get(slug=slug), done=True)
    Reading.objects.create(
        user=bound_owner,
        paper=Paper.objects.get(arxiv_id="2205.14135"),
        status=ReadingStatus.READ,
        read_at=timezone.now(),
    )
    progress = compute_progress(bound_owner)
    card = ask("/progress")
    text = body(card)
    assert f"{progress.done}/{progress.total}" in text
    assert progress.done == 2
    assert "1/28" in text  # core papers read
    assert "基础强化" in text  # per-phase lines
    assert buttons(card)[0]["behaviors"][0]["default_url"] == "http://portal.test/curriculum/"


def test_week_shows_the_current_plan_week_with_ticks_and_a_button_for_the_next_open_task(
    plan, bound_owner
):
    set_start_date(user=bound_owner, start_date=in_week(3))
    week3 = Week.objects.get(number=3)
    tasks = list(Item.objects.active().tasks().filter(week=week3).in_plan_order())
    set_item_done(user=bound_owner, item=tasks[0], done=True)

    card = ask("/week")
    text = body(card)
    assert f"第3周 {week3.title}" in text
    assert f"✅ {tasks[0].title}" in text
    assert f"⬜ {tasks[1].title}" in text
    assert f"1/{len(tasks)}" in text
    mark, open_link = buttons(card)
    assert mark["behaviors"][0]["value"] == {
        "action": "task_done",
        "model": "curriculum.item",
        "pk": tasks[1].pk,
    }
    assert open_link["behaviors"][0]["default_url"] == "http://portal.test/curriculum/weeks/3/"


def test_without_a_start_date_week_is_the_first_week_with_open_tasks(plan, bound_owner):
    for item in Item.objects.active().tasks().filter(week__number=1):
        set_item_done(user=bound_owner, item=item, done=True)
    assert "第2周" in body(ask("/week"))


def test_the_mark_done_button_ticks_the_task_through_the_curriculum_and_redraws_the_card(
    client, plan, bound_owner
):
    set_start_date(user=bound_owner, start_date=in_week(2))
    first, second = Item.objects.active().tasks().filter(week__number=2).in_plan_order()[:2]
    before = compute_progress(bound_owner).done

    resp = press(client, {"action": "task_done", "model": "curriculum.item", "pk": first.pk})
    assert resp.status_code == HTTPStatus.OK
    answer = resp.json()
    assert first.title[:10] in answer["toast"]["content"]
    progress = ItemProgress.objects.get(user=bound_owner, item=first)
    assert progress.done and progress.done_at is not None
    assert compute_progress(bound_owner).done == before + 1
    # the card comes back with the task ticked and the button on the next one
    card = answer["card"]["data"]
    assert f"✅ {first.title}" in body(card)
    assert buttons(card)[0]["behaviors"][0]["value"]["pk"] == second.pk

    # pressing it again (Feishu may deliver twice) keeps the first tick's time
    press(client, {"action": "task_done", "pk": first.pk}, event_id="card-y")
    progress.refresh_from_db()
    assert ItemProgress.objects.filter(user=bound_owner, item=first).count() == 1
    assert progress.done_at == ItemProgress.objects.get(pk=progress.pk).done_at


def test_the_button_refuses_strangers_archived_items_and_other_models(client, plan, bound_owner):
    item = Item.objects.active().tasks().first()
    stranger = press(client, {"action": "task_done", "pk": item.pk}, open_id="ou_nobody")
    assert "card" not in stranger.json()
    Item.objects.filter(pk=item.pk).update(archived=True)
    archived = press(client, {"action": "task_done", "pk": item.pk}, event_id="card-2")
    other = Item.objects.active().tasks().first()
    wrong_model = press(
        client, {"action": "task_done", "model": "auth.user", "pk": other.pk}, event_id="card-3"
    )
    for resp in (stranger, archived, wrong_model):
        assert resp.status_code == HTTPStatus.OK
        assert resp.json()["toast"]["content"]
    assert not ItemProgress.objects.exists()


def test_papers_lists_what_is_being_read_then_unread_core_papers_due_by_this_week(
    plan, core_papers, bound_owner
):
    set_start_date(user=bound_owner, start_date=in_week(10))
    Reading.objects.create(
        user=bound_owner, paper=Paper.objects.get(arxiv_id="2309.06180"), status="reading"
    )
    Reading.objects.create(
        user=bound_owner,
        paper=Paper.objects.get(arxiv_id="1706.03762"),
        status=ReadingStatus.READ,
        read_at=timezone.now(),
    )
    card = ask("/papers")
    lines = body(card).splitlines()
    assert len(lines) == 5
    assert "vLLM (PagedAttention)" in lines[0]
    assert "(http://portal.test/papers/2309.06180/)" in lines[0]
    assert "Attention Is All You Need" not in body(card)  # read
    # then unread core papers due by week 10, earliest week first (the TPU paper: weeks 5-6)
    assert "Google TPU" in lines[1]
    assert all("第" in line for line in lines[1:])


def test_commands_say_so_when_the_curriculum_is_not_loaded(bound_owner):
    not_loaded = _("The curriculum is not loaded yet.")
    assert body(ask("/week")) == not_loaded
    assert body(ask("/progress")) == not_loaded
    assert buttons(ask("/week"))[0]["behaviors"][0]["type"] == "open_url"
