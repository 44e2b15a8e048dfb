"""Knowledge-base and settings pages: access, forms, htmx partials."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal.feishu import services
from portal.feishu.models import Document, FeishuBinding, Notification, Source

pytestmark = pytest.mark.django_db


@pytest.fixture
def my_doc(owner):  # noqa: ANN001, ANN201
    doc, _ = services.upsert_document(
        owner=owner,
        source=Source.UPLOAD,
        source_key="n",
        title="CUDA 笔记",
        content="## 共享内存\n共享内存在一个线程块内共享。",
    )
    services.embed_document(doc.pk)
    return doc


@pytest.mark.parametrize("name", ["feishu:index", "feishu:settings"])
def test_pages_redirect_anonymous_users_to_login(client, name):
    resp = client.get(reverse(name))
    assert resp.status_code == HTTPStatus.FOUND
    assert "/login" in resp["Location"]


def test_the_index_lists_documents_with_chunk_counts(owner_client, my_doc):
    resp = owner_client.get(reverse("feishu:index"))
    assert resp.status_code == HTTPStatus.OK
    body = resp.content.decode()
    assert "CUDA 笔记" in body
    assert 'id="kb-documents"' in body


def test_asking_on_the_page_shows_the_answer_citations_and_scores(owner_client, my_doc):
    resp = owner_client.get(reverse("feishu:index"), {"q": "共享内存在哪里共享？"})
    body = resp.content.decode()
    assert "共享内存在一个线程块内共享" in body
    assert reverse("feishu:document", args=[my_doc.pk]) in body
    assert "RRF" in body


def test_an_htmx_ask_renders_only_the_answer_partial(owner_client, my_doc):
    resp = owner_client.get(
        reverse("feishu:index"),
        {"q": "共享内存"},
        headers={"HX-Request": "true", "HX-Target": "kb-answer"},
    )
    body = resp.content.decode()
    assert body.strip().startswith('<div id="kb-answer">')
    assert "<html" not in body


def test_uploading_through_the_form(owner_client, owner, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("week.md", "# 第3周\nTriton 入门。".encode())
    with django_capture_on_commit_callbacks() as queued:
        resp = owner_client.post(reverse("feishu:upload"), {"file": upload, "title": ""})
    assert resp.status_code == HTTPStatus.FOUND
    assert Document.objects.get(owner=owner).title == "week"
    assert len(queued) == 1


def test_a_bad_upload_shows_the_form_again_with_the_error(owner_client):
    upload = SimpleUploadedFile("a.docx", b"PK")
    resp = owner_client.post(reverse("feishu:upload"), {"file": upload})
    assert resp.status_code == HTTPStatus.BAD_REQUEST
    assert "PDF" in resp.content.decode()


def test_upload_is_post_only(owner_client):
    assert owner_client.get(reverse("feishu:upload")).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_another_users_document_page_is_404(other_client, my_doc):
    assert (
        other_client.get(reverse("feishu:document", args=[my_doc.pk])).status_code
        == HTTPStatus.NOT_FOUND
    )
    resp = other_client.post(reverse("feishu:delete", args=[my_doc.pk]))
    assert resp.status_code == HTTPStatus.NOT_FOUND
    assert Document.objects.filter(pk=my_doc.pk).exists()


def test_the_document_page_shows_its_chunks_with_anchors(owner_client, my_doc):
    chunk = my_doc.chunks.get()
    body = owner_client.get(reverse("feishu:document", args=[my_doc.pk])).content.decode()
    assert f'id="chunk-{chunk.pk}"' in body


def test_getting_a_bind_code_shows_it_on_the_settings_page(owner_client, owner):
    resp = owner_client.post(reverse("feishu:bind"), follow=True)
    code = FeishuBinding.objects.get(user=owner).bind_code
    assert len(code) == 12
    assert f"/bind {code}" in resp.content.decode()


def test_saving_notification_preferences(owner_client, owner):
    resp = owner_client.post(
        reverse("feishu:settings"),
        {
            "channel": "bot",
            "digest_enabled": "on",
            "digest_weekday": 4,
            "digest_hour": 9,
            "notify_events": "on",
        },
    )
    assert resp.status_code == HTTPStatus.FOUND
    binding = FeishuBinding.objects.get(user=owner)
    assert (binding.digest_weekday, binding.digest_hour) == (4, 9)
    assert binding.notify_events and not binding.review_reminder  # unticked box
    owner_client.post(
        reverse("feishu:settings"),
        {"channel": "bot", "digest_weekday": 4, "digest_hour": 9, "review_reminder": "on"},
    )
    binding.refresh_from_db()
    assert binding.review_reminder and not binding.digest_enabled


def test_an_invalid_digest_hour_is_refused(owner_client):
    resp = owner_client.post(
        reverse("feishu:settings"), {"channel": "bot", "digest_weekday": 1, "digest_hour": 30}
    )
    assert resp.status_code == HTTPStatus.BAD_REQUEST


def test_the_test_notification_button_queues_a_notification(
    owner_client, owner, django_capture_on_commit_callbacks
):
    FeishuBinding.objects.create(user=owner, open_id="ou_owner")
    with django_capture_on_commit_callbacks() as queued:
        resp = owner_client.post(reverse("feishu:test_notification"))
    assert resp.status_code == HTTPStatus.FOUND
    notification = Notification.objects.get(user=owner)
    assert (notification.kind, notification.channel) == ("test", "bot")
    assert len(queued) == 1


def test_the_test_notification_says_when_there_is_nowhere_to_send(owner_client, owner):
    resp = owner_client.post(reverse("feishu:test_notification"), follow=True)
    assert not Notification.objects.exists()
    assert resp.status_code == HTTPStatus.OK


def test_unbinding(owner_client, owner):
    FeishuBinding.objects.create(user=owner, open_id="ou_owner")
    owner_client.post(reverse("feishu:unbind"))
    assert FeishuBinding.objects.get(user=owner).open_id == ""


def test_the_page_is_chinese_by_default(owner_client):
    body = owner_client.get(reverse("feishu:index")).content.decode()
    assert "知识库" in body and "提问" in body


def test_the_dashboard_shows_the_knowledge_base_panel(owner_client, my_doc):
    body = owner_client.get(reverse("dashboard")).content.decode()
    assert reverse("feishu:index") in body
    assert "已就绪文档 1/1" in body
