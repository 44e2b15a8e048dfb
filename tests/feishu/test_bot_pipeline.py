"""The whole path: signed event → endpoint → Celery worker → lark-oapi client → fake Feishu."""

from __future__ import annotations

import json
from http import HTTPStatus

import pytest
from django.db import connection

from portal.feishu import services
from portal.feishu.models import (
    Conversation,
    EventStatus,
    FeishuBinding,
    FeishuEvent,
    Notification,
    NotificationStatus,
    Turn,
)
from portal.knowledge import services as kb_services
from portal.knowledge.models import Document, DocumentStatus, Source
from tests.feishu.conftest import ENCRYPT_KEY, VERIFICATION_TOKEN, WORKER_APP, wait_until
from tests.feishu.fakefeishu import bot_mention, message_event, signed_request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("feishu_worker")]

PLAN = """# 学习计划
## 第8周 模型量化
本周学习 GPTQ 和 AWQ 两种权重量化方法，在 SmolLM2 上比较困惑度。
## 第14周 飞书机器人
用 lark-oapi 实现飞书知识库问答机器人，支持群聊 @ 和私聊，多轮对话。
"""


def post_event(client, event):  # noqa: ANN001, ANN201
    body, headers = signed_request(event, encrypt_key=ENCRYPT_KEY)
    return client.post(
        "/feishu/events", data=body, content_type="application/json", headers=headers
    )


@pytest.fixture
def knowledge(db):  # noqa: ANN001, ANN201
    doc, _queued = kb_services.upsert_document(
        owner=None, source=Source.CURRICULUM, source_key="plan", title="学习计划", content=PLAN
    )
    wait_until(
        lambda: Document.objects.get(pk=doc.pk).status == DocumentStatus.READY, what="embedding"
    )
    return Document.objects.get(pk=doc.pk)


def test_embedding_runs_in_the_worker_and_the_document_becomes_ready(knowledge):
    assert knowledge.chunk_count == 2
    assert knowledge.progress == 1.0
    assert set(knowledge.chunks.values_list("section", flat=True)) == {
        "学习计划 / 第8周 模型量化",
        "学习计划 / 第14周 飞书机器人",
    }


def test_a_private_message_retried_by_feishu_is_answered_once_with_citations(
    client, fake_feishu, knowledge
):
    event = message_event(
        text="飞书机器人用什么库实现？", token=VERIFICATION_TOKEN, event_id="ev-p2p"
    )
    for _ in range(3):
        assert post_event(client, event).status_code == HTTPStatus.OK
    replies = fake_feishu.wait_for("/reply", 1)
    wait_until(
        lambda: FeishuEvent.objects.get(event_id="ev-p2p").status == EventStatus.DONE,
        what="event done",
    )
    # give a duplicate job (if any) time to show up before asserting there is none
    import time

    time.sleep(1.0)
    replies = fake_feishu.requests("/reply")
    assert len(replies) == 1
    reply = replies[0]
    assert (
        reply.path == f"/open-apis/im/v1/messages/{event['event']['message']['message_id']}/reply"
    )
    assert reply.headers["Authorization"].startswith("Bearer ")
    assert reply.body["msg_type"] == "interactive"
    card = reply.content
    markdown = card["body"]["elements"][0]["content"]
    assert "lark-oapi" in markdown
    assert "学习计划" in markdown  # the citation
    assert f"http://portal.test/kb/documents/{knowledge.pk}/#chunk-" in markdown
    assert FeishuEvent.objects.get(event_id="ev-p2p").deliveries == 3


def test_a_group_message_without_a_mention_is_ignored(client, fake_feishu, knowledge):
    event = message_event(
        text="飞书机器人用什么库？",
        token=VERIFICATION_TOKEN,
        chat_type="group",
        event_id="ev-group",
    )
    assert post_event(client, event).status_code == HTTPStatus.OK
    wait_until(
        lambda: FeishuEvent.objects.get(event_id="ev-group").status == EventStatus.IGNORED,
        what="event ignored",
    )
    assert fake_feishu.messages() == []


def test_a_group_message_mentioning_another_user_is_ignored(client, fake_feishu, knowledge):
    event = message_event(
        text="@_user_1 你好",
        token=VERIFICATION_TOKEN,
        chat_type="group",
        mentions=[bot_mention("ou_someone_else")],
        event_id="ev-other-mention",
    )
    post_event(client, event)
    wait_until(
        lambda: FeishuEvent.objects.get(event_id="ev-other-mention").status == EventStatus.IGNORED,
        what="event ignored",
    )
    assert fake_feishu.messages() == []


def test_a_group_mention_is_answered_in_its_thread_with_the_mention_stripped(
    client, fake_feishu, knowledge
):
    first = message_event(
        text="@_user_1 第8周学习哪些量化方法？",
        token=VERIFICATION_TOKEN,
        chat_type="group",
        chat_id="oc_group",
        mentions=[bot_mention()],
        thread_id="omt_thread_1",
    )
    post_event(client, first)
    reply = fake_feishu.wait_for("/reply", 1)[0]
    assert reply.body["reply_in_thread"] is True
    assert "GPTQ" in reply.content["body"]["elements"][0]["content"]

    second = message_event(
        text="@_user_1 那第14周呢？",
        token=VERIFICATION_TOKEN,
        chat_type="group",
        chat_id="oc_group",
        mentions=[bot_mention()],
        thread_id="omt_thread_1",
    )
    post_event(client, second)
    fake_feishu.wait_for("/reply", 2)
    convo = Conversation.objects.get(chat_id="oc_group", thread_key="omt_thread_1")
    wait_until(lambda: convo.turns.count() == 4, what="two exchanges recorded")
    questions = list(convo.turns.filter(role="user").values_list("content", flat=True))
    assert questions == ["第8周学习哪些量化方法？", "那第14周呢？"]


def test_reset_clears_the_conversation(client, fake_feishu, knowledge):
    post_event(
        client, message_event(text="GPTQ 是什么？", token=VERIFICATION_TOKEN, chat_id="oc_r")
    )
    fake_feishu.wait_for("/reply", 1)
    wait_until(lambda: Turn.objects.filter(conversation__chat_id="oc_r").count() == 2, what="turns")
    post_event(client, message_event(text="/reset", token=VERIFICATION_TOKEN, chat_id="oc_r"))
    fake_feishu.wait_for("/reply", 2)
    wait_until(lambda: not Turn.objects.filter(conversation__chat_id="oc_r").exists(), what="reset")


def test_binding_with_a_one_time_code_links_the_feishu_user(client, fake_feishu, owner):
    code = services.start_binding(user=owner)
    post_event(
        client, message_event(text=f"/bind {code}", token=VERIFICATION_TOKEN, open_id="ou_owner")
    )
    reply = fake_feishu.wait_for("/reply", 1)[0]
    assert "owner" in json.dumps(reply.content, ensure_ascii=False)
    binding = FeishuBinding.objects.get(user=owner)
    assert binding.open_id == "ou_owner"
    assert binding.bind_code == ""


def test_a_notification_that_fails_at_first_is_retried_until_sent(fake_feishu, owner):
    FeishuBinding.objects.create(user=owner, open_id="ou_owner", chat_id="oc_x")
    fake_feishu.fail_next("/open-apis/im/v1/messages", 2)
    notification = services.notify_user(owner, "Lab run #3 finished", kind="lab_run")
    assert notification is not None
    wait_until(
        lambda: Notification.objects.get(pk=notification.pk).status == NotificationStatus.SENT,
        timeout=30,
        what="notification sent",
    )
    notification.refresh_from_db()
    assert notification.attempts == 3
    sent = fake_feishu.requests("/open-apis/im/v1/messages")
    assert len(sent) == 3  # two injected failures, then the delivery
    assert sent[-1].query == {"receive_id_type": "open_id"}
    assert sent[-1].body["receive_id"] == "ou_owner"
    assert sent[-1].content == {"text": "Lab run #3 finished"}


def test_a_group_webhook_notification_is_signed(fake_feishu, owner, settings):
    fake_feishu.webhook_secret = "hook-secret"
    FeishuBinding.objects.create(
        user=owner,
        channel="webhook",
        webhook_url=f"{fake_feishu.base_url}/open-apis/bot/v2/hook/abc",
        webhook_secret="hook-secret",
    )
    notification = services.notify_user(owner, "周报：本周完成 3/5 项")
    wait_until(
        lambda: Notification.objects.get(pk=notification.pk).status == NotificationStatus.SENT,
        what="webhook sent",
    )
    hook = fake_feishu.requests("/bot/v2/hook/abc")[0]
    assert hook.body["content"] == {"text": "周报：本周完成 3/5 项"}
    assert hook.body["sign"]


def test_a_notification_that_keeps_failing_is_recorded_as_failed(fake_feishu, owner, settings):
    FeishuBinding.objects.create(
        user=owner,
        channel="webhook",
        webhook_url=f"{fake_feishu.base_url}/open-apis/bot/v2/hook/x",
        webhook_secret="wrong-secret",
    )
    fake_feishu.webhook_secret = "the-real-secret"
    notification = services.notify_user(owner, "hello")
    wait_until(
        lambda: Notification.objects.get(pk=notification.pk).status == NotificationStatus.FAILED,
        timeout=60,
        what="notification failed",
    )
    notification.refresh_from_db()
    assert notification.attempts == 6
    assert "19021" in notification.last_error
    assert "sign match fail" not in notification.last_error


def test_an_event_is_answered_once_when_the_worker_loses_its_database_after_replying(
    client, fake_feishu
):
    """PostgreSQL ends the worker's connection (pg_terminate_backend: the server closes it)
    while the worker's reply is on its way. The job is tried again, the event ends done, and
    the second reply carries the first one's uuid, so Feishu sends one message."""
    entered, release = fake_feishu.hold_next("/open-apis/im/v1/messages")
    event = message_event(text="/help", token=VERIFICATION_TOKEN, event_id="ev-db-lost")
    assert post_event(client, event).status_code == HTTPStatus.OK
    assert entered.wait(30), "the worker never replied"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            [WORKER_APP],
        )
        ended = cursor.fetchall()
    assert ended and all(ok for (ok,) in ended)  # the worker's connections, ended
    release.set()

    wait_until(
        lambda: FeishuEvent.objects.get(event_id="ev-db-lost").status == EventStatus.DONE,
        what="the event answered by the retried job",
    )
    assert len(fake_feishu.messages()) == 1
    assert len(fake_feishu.duplicates) == 1
    first, again = fake_feishu.messages()[0], fake_feishu.duplicates[0]
    assert first.body["uuid"] == again.body["uuid"] == "answer-ev-db-lost"
