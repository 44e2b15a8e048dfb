"""Bot logic without the worker: addressing, mentions, commands, card callbacks, digest."""

from __future__ import annotations

import json
from datetime import datetime
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from portal.feishu import bot, services
from portal.feishu.checks import feishu_credentials_check
from portal.feishu.digest import send_due_digests
from portal.feishu.models import Conversation, FeishuBinding, Notification, Turn
from portal.feishu.schemas import MessageEvent
from tests.feishu.conftest import ENCRYPT_KEY, VERIFICATION_TOKEN
from tests.feishu.fakefeishu import bot_mention, message_event, signed_request


def event(**kwargs) -> MessageEvent:  # noqa: ANN003
    return MessageEvent.from_payload(message_event(token="t", **kwargs))


def test_private_chats_are_always_addressed_to_the_bot():
    assert bot.is_addressed_to_bot(event(text="hi"))


def test_group_messages_need_an_at_mention_of_the_bot():
    assert not bot.is_addressed_to_bot(event(text="hi", chat_type="group"))
    assert not bot.is_addressed_to_bot(
        event(text="@_user_1 hi", chat_type="group", mentions=[bot_mention("ou_other")])
    )
    assert bot.is_addressed_to_bot(
        event(text="@_user_1 hi", chat_type="group", mentions=[bot_mention()])
    )


def test_mentions_are_stripped_from_the_question():
    assert bot.strip_mentions("@_user_1  第8周 做什么 @_user_2") == "第8周 做什么"


def test_a_payload_that_is_not_a_message_is_a_value_error():
    with pytest.raises(ValueError):
        MessageEvent.from_payload({"header": {"event_id": "x"}, "event": {}})


@pytest.mark.django_db
def test_help_lists_the_commands():
    card = bot.handle_message(event(text="/help"))
    text = card["body"]["elements"][0]["content"]
    for command in ("/progress", "/week", "/papers", "/reset", "/bind"):
        assert command in text


@pytest.mark.django_db
def test_personal_commands_ask_unbound_users_to_link_first():
    card = bot.handle_message(event(text="/progress", open_id="ou_stranger"))
    assert "/bind" in card["body"]["elements"][0]["content"]


@pytest.mark.django_db
def test_bound_users_get_their_week_and_papers_cards(owner):
    FeishuBinding.objects.create(user=owner, open_id="ou_owner")
    week = bot.handle_message(event(text="/week", open_id="ou_owner"))
    papers = bot.handle_message(event(text="/papers", open_id="ou_owner"))
    assert week["header"]["title"]["content"]
    assert papers["header"]["title"]["content"]


@pytest.mark.django_db
def test_history_is_used_and_expires_after_the_idle_time(settings):
    convo = services.conversation_for(chat_id="oc_h")
    services.record_exchange(conversation=convo, question="Q1", answer="A1", citations=[])
    assert services.recent_history(convo) == [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
    ]
    Conversation.objects.filter(pk=convo.pk).update(
        last_active_at=datetime(2020, 1, 1, tzinfo=ZoneInfo("UTC"))
    )
    services.conversation_for(chat_id="oc_h")
    assert not Turn.objects.filter(conversation=convo).exists()


@pytest.mark.django_db
def test_only_the_last_n_turns_are_kept_as_context(settings):
    settings.FEISHU_HISTORY_TURNS = 2
    convo = services.conversation_for(chat_id="oc_n")
    for i in range(5):
        services.record_exchange(conversation=convo, question=f"Q{i}", answer=f"A{i}", citations=[])
    history = services.recent_history(convo)
    assert [h["content"] for h in history] == ["Q3", "A3", "Q4", "A4"]


@pytest.mark.django_db
def test_an_expired_bind_code_is_refused(owner):
    code = services.start_binding(user=owner)
    FeishuBinding.objects.filter(user=owner).update(
        bind_code_expires_at=datetime(2020, 1, 1, tzinfo=ZoneInfo("UTC"))
    )
    assert services.complete_binding(code=code, open_id="ou_x", chat_id="oc") is None


@pytest.mark.django_db
def test_the_new_conversation_card_button_clears_history_through_the_event_endpoint(client):
    convo = services.conversation_for(chat_id="oc_card")
    services.record_exchange(conversation=convo, question="Q", answer="A", citations=[])
    payload = {
        "schema": "2.0",
        "header": {
            "event_id": "card-1",
            "event_type": "card.action.trigger",
            "token": VERIFICATION_TOKEN,
            "create_time": "1",
            "app_id": "cli",
            "tenant_key": "t",
        },
        "event": {
            "operator": {"open_id": "ou_user_1"},
            "action": {"tag": "button", "value": {"action": "reset", "chat_id": "oc_card"}},
            "context": {"open_chat_id": "oc_card", "open_message_id": "om_1"},
        },
    }
    body, headers = signed_request(payload, encrypt_key=ENCRYPT_KEY)
    resp = client.post(
        "/feishu/events", data=body, content_type="application/json", headers=headers
    )
    assert resp.status_code == HTTPStatus.OK
    assert resp.json()["toast"]["content"]
    assert not Turn.objects.filter(conversation=convo).exists()


@pytest.mark.django_db
def test_the_weekly_digest_goes_to_users_whose_day_and_hour_it_is(
    owner, other_user, django_capture_on_commit_callbacks
):
    FeishuBinding.objects.create(user=owner, open_id="ou_a", digest_weekday=6, digest_hour=20)
    FeishuBinding.objects.create(user=other_user, open_id="ou_b", digest_weekday=0, digest_hour=8)
    sunday_8pm = datetime(2026, 11, 29, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    with django_capture_on_commit_callbacks():
        assert send_due_digests(now=sunday_8pm) == 1
        # beat runs hourly; a second run in the same week sends nothing
        assert send_due_digests(now=sunday_8pm) == 0
    digest = Notification.objects.get()
    assert (digest.user, digest.kind) == (owner, "digest")
    assert digest.card["header"]["title"]["content"]
    assert json.dumps(digest.card)


@pytest.mark.django_db
def test_notify_user_returns_none_when_the_user_cannot_be_reached(owner):
    assert services.notify_user(owner, "hello") is None


def test_the_system_check_warns_when_the_bot_is_half_configured(settings):
    settings.FEISHU_APP_ID = "cli_x"
    settings.FEISHU_ENCRYPT_KEY = ""
    warnings = feishu_credentials_check()
    assert [w.id for w in warnings] == ["feishu.W001"]
    assert "FEISHU_ENCRYPT_KEY" in warnings[0].msg


def test_the_system_check_is_quiet_when_the_bot_is_off(settings):
    settings.FEISHU_APP_ID = ""
    assert feishu_credentials_check() == []


def test_the_long_connection_command_refuses_to_start_without_credentials(settings):
    from django.core.management.base import CommandError

    settings.FEISHU_APP_ID = ""
    with pytest.raises(CommandError, match="FEISHU_APP_ID"):
        call_command("feishu_ws")


@pytest.mark.django_db(transaction=True)
def test_events_from_the_long_connection_are_stored_from_inside_its_event_loop():
    import asyncio

    from portal.feishu.events import dispatcher
    from portal.feishu.models import FeishuEvent

    payload = json.dumps(
        message_event(text="hi", token=VERIFICATION_TOKEN, event_id="ws-1")
    ).encode()

    async def deliver() -> None:
        # lark.ws.Client calls the handler like this, inside its asyncio loop
        dispatcher()._do_without_validation(payload)

    asyncio.run(deliver())
    assert FeishuEvent.objects.filter(event_id="ws-1").exists()


@pytest.mark.django_db
def test_a_lab_event_becomes_a_card_unless_the_user_turned_events_off(owner):
    binding = FeishuBinding.objects.create(user=owner, open_id="ou_owner")
    sent = services.notify_event(
        owner, kind="lab_run_failed", title="Lab run failed", markdown="OOM", url="/labs/runs/3/"
    )
    assert sent.card["header"]["template"] == "red"
    assert sent.card["body"]["elements"][1]["columns"][0]["elements"][0]["behaviors"][0][
        "default_url"
    ].endswith("/labs/runs/3/")
    binding.notify_events = False
    binding.save()
    assert services.notify_event(owner, kind="phase_done", title="t", markdown="m") is None


@pytest.mark.django_db
def test_with_a_verified_llm_a_placeholder_card_is_sent_then_updated_with_the_answer(
    fake_feishu, settings
):
    from portal.knowledge import llm
    from portal.knowledge import services as kb_services
    from tests.knowledge.test_llm import _ChatServer, honest

    doc, _ = kb_services.upsert_document(
        owner=None,
        source="curriculum",
        source_key="w8",
        title="Week 8",
        content="## Quantization\nWeek 8 quantizes SmolLM2 with GPTQ and AWQ.",
    )
    kb_services.embed_document(doc.pk)
    server = _ChatServer(honest("Week 8 quantizes SmolLM2 with GPTQ and AWQ."))
    llm._verified.clear()
    try:
        settings.KB_LLM_BACKEND = "openai"
        settings.KB_LLM_URL = server.url
        settings.KB_LLM_LANGUAGES = "en"
        payload = message_event(
            text="Which quantization methods does week 8 use?", token=VERIFICATION_TOKEN
        )
        assert bot.process_message_event(payload) == "done"
    finally:
        server.close()
        llm._verified.clear()
    reply, update = fake_feishu.requests("/open-apis/im/v1/messages")
    assert reply.path.endswith("/reply") and reply.method == "POST"
    assert update.method == "PATCH"
    assert update.path.startswith("/open-apis/im/v1/messages/om_")
    final = update.content["body"]["elements"][0]["content"]
    assert "Week 8 quantizes SmolLM2 with GPTQ and AWQ. [1]" in final
    assert "1. [Week 8" in final


@pytest.mark.django_db
def test_a_quoted_answer_card_links_every_sentence_to_its_numbered_source(fake_feishu):
    from portal.knowledge import services as kb_services

    doc, _ = kb_services.upsert_document(
        owner=None,
        source="curriculum",
        source_key="w8",
        title="第8周",
        content="## 量化\n本周用 GPTQ 和 AWQ 量化 SmolLM2。\n比较困惑度。",
    )
    kb_services.embed_document(doc.pk)
    payload = message_event(text="第8周用 GPTQ 还是 AWQ 量化？", token=VERIFICATION_TOKEN)
    assert bot.process_message_event(payload) == "done"
    (reply,) = fake_feishu.requests("/open-apis/im/v1/messages")
    body = reply.content["body"]["elements"][0]["content"]
    assert "> 本周用 GPTQ 和 AWQ 量化 SmolLM2。 [[1]](http://portal.test/kb/documents/" in body
    assert "1. [第8周" in body


def _answer_card_body(fake_feishu, question: str) -> str:  # noqa: ANN001
    """The markdown of the card the bot answers `question` with, week 8's note indexed."""
    from portal.knowledge import services as kb_services

    doc, _ = kb_services.upsert_document(
        owner=None, source="curriculum", source_key="w8", title="第8周",
        content="## 量化\n本周用 GPTQ 和 AWQ 量化 SmolLM2。",
    )  # fmt: skip
    kb_services.embed_document(doc.pk)
    assert (
        bot.process_message_event(message_event(text=question, token=VERIFICATION_TOKEN)) == "done"
    )
    (reply,) = fake_feishu.requests("/open-apis/im/v1/messages")
    return reply.content["body"]["elements"][0]["content"]


@pytest.mark.django_db
def test_a_not_found_card_names_what_the_knowledge_base_never_mentions(fake_feishu):
    body = _answer_card_body(fake_feishu, "TensorRT-LLM 怎么量化？")
    assert "没有提到 TensorRT-LLM" in body or "never mentions TensorRT-LLM" in body
    assert "本周用 GPTQ" not in body


@pytest.mark.django_db
def test_a_belief_card_says_the_name_is_nowhere_then_quotes_the_answer(fake_feishu):
    body = _answer_card_body(fake_feishu, "第8周是用 TensorRT-LLM 量化 SmolLM2 的吧？")
    assert body.index("没有提到 TensorRT-LLM") < body.index("> 本周用 GPTQ 和 AWQ 量化 SmolLM2。")


@pytest.mark.django_db
def test_without_the_override_the_bot_learns_its_open_id_from_the_platform_once(
    fake_feishu, settings
):
    from portal.feishu import client

    settings.FEISHU_BOT_OPEN_ID = ""
    settings.FEISHU_APP_ID = "cli_bot_info_test"  # a fresh app: its own token and cache
    client._own_open_ids.clear()
    fake_feishu.bot_open_id = "ou_the_bot"
    other = event(text="@_user_1 hi", chat_type="group", mentions=[bot_mention("ou_someone")])
    mine = event(text="@_user_1 hi", chat_type="group", mentions=[bot_mention("ou_the_bot")])
    assert not bot.is_addressed_to_bot(other)
    assert bot.is_addressed_to_bot(mine)
    assert bot.is_addressed_to_bot(mine)
    (info,) = fake_feishu.requests("/open-apis/bot/v3/info")  # asked once, then cached
    assert info.method == "GET"
    assert info.headers["Authorization"].startswith("Bearer ")
    client._own_open_ids.clear()


@pytest.mark.django_db
def test_when_the_bots_open_id_cannot_be_learned_no_group_message_is_answered(
    fake_feishu, settings
):
    from portal.feishu import client

    settings.FEISHU_BOT_OPEN_ID = ""
    settings.FEISHU_APP_ID = "cli_bot_info_down"
    client._own_open_ids.clear()
    fake_feishu.fail_next("/open-apis/bot/v3/info", 5)
    mentioned = event(text="@_user_1 hi", chat_type="group", mentions=[bot_mention("ou_bot")])
    assert not bot.is_addressed_to_bot(mentioned)
    assert bot.is_addressed_to_bot(event(text="hi"))  # private chats need no open_id
    client._own_open_ids.clear()


def test_idempotency_keys_are_stable_and_fit_feishus_50_characters():
    from portal.feishu.client import UUID_MAX, idempotency_key

    assert idempotency_key("answer", "ev-1") == "answer-ev-1"
    long = idempotency_key("answer", "e" * 80)
    assert len(long) == UUID_MAX and long == idempotency_key("answer", "e" * 80)
    assert long != idempotency_key("wait", "e" * 80)
