"""/api/feishu/kb/...: documents and ask, with token and session auth."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from portal.feishu import services
from portal.feishu.models import Document, Source

pytestmark = pytest.mark.django_db

DOCS = "/api/feishu/kb/documents"
ASK = "/api/feishu/kb/ask"


@pytest.fixture
def ready_doc(owner):  # noqa: ANN001, ANN201
    doc, _ = services.upsert_document(
        owner=owner,
        source=Source.UPLOAD,
        source_key="quant",
        title="量化笔记",
        content="## AWQ\nAWQ 根据激活分布找出重要的权重通道并缩放保护。",
    )
    services.embed_document(doc.pk)
    return doc


def test_anonymous_requests_are_401():
    client = Client()
    assert client.get(DOCS).status_code == HTTPStatus.UNAUTHORIZED
    assert (
        client.post(ASK, {"question": "x"}, content_type="application/json").status_code
        == HTTPStatus.UNAUTHORIZED
    )


def test_posting_a_document_queues_it_and_reposting_is_a_no_op(
    api, django_capture_on_commit_callbacks
):
    body = {"title": "笔记", "content": "## 一\n内容。"}
    with django_capture_on_commit_callbacks() as queued:
        resp = api.post(DOCS, body, content_type="application/json")
    assert resp.status_code == HTTPStatus.CREATED
    assert resp.json()["status"] == "pending"
    assert len(queued) == 1
    again = api.post(DOCS, body, content_type="application/json")
    assert again.status_code == HTTPStatus.OK
    assert again.json()["id"] == resp.json()["id"]


def test_a_blank_document_is_a_422_with_a_message(api):
    resp = api.post(DOCS, {"title": "x", "content": "   "}, content_type="application/json")
    assert resp.status_code == HTTPStatus.UNPROCESSABLE_ENTITY


def test_uploading_a_file_through_the_api(api):
    upload = SimpleUploadedFile("notes.md", "# 标题\n正文。".encode(), content_type="text/markdown")
    resp = api.post(DOCS + "/upload", {"file": upload})
    assert resp.status_code == HTTPStatus.CREATED, resp.content
    assert Document.objects.get(pk=resp.json()["id"]).source == Source.UPLOAD


def test_an_unsupported_upload_is_400_with_a_message(api):
    upload = SimpleUploadedFile("x.exe", b"MZ")
    resp = api.post(DOCS + "/upload", {"file": upload})
    assert resp.status_code == HTTPStatus.BAD_REQUEST
    assert "Markdown" in resp.json()["detail"]


def test_the_list_shows_my_documents_not_other_users(api, ready_doc, other_user):
    services.upsert_document(
        owner=other_user, source=Source.UPLOAD, source_key="s", title="别人的", content="秘密"
    )
    titles = [d["title"] for d in api.get(DOCS).json()]
    assert titles == ["量化笔记"]


def test_another_users_document_is_404(other_client, ready_doc):
    assert other_client.get(f"{DOCS}/{ready_doc.pk}").status_code == HTTPStatus.NOT_FOUND
    assert other_client.delete(f"{DOCS}/{ready_doc.pk}").status_code in (
        HTTPStatus.NOT_FOUND,
        HTTPStatus.FORBIDDEN,
    )
    assert Document.objects.filter(pk=ready_doc.pk).exists()


def test_deleting_my_document(api, ready_doc):
    assert api.delete(f"{DOCS}/{ready_doc.pk}").status_code == HTTPStatus.NO_CONTENT
    assert not Document.objects.filter(pk=ready_doc.pk).exists()


def test_ask_returns_an_answer_with_citations_and_passages(api, ready_doc):
    resp = api.post(ASK, {"question": "AWQ 如何保护重要权重？"}, content_type="application/json")
    assert resp.status_code == HTTPStatus.OK
    data = resp.json()
    assert "AWQ" in data["answer"]
    assert data["found"] is True
    assert data["citations"][0]["title"] == "量化笔记"
    assert data["citations"][0]["url"].startswith(f"/feishu/documents/{ready_doc.pk}/#chunk-")
    assert data["passages"][0]["document_id"] == ready_doc.pk


def test_ask_with_an_unknown_source_filter_is_400(api):
    resp = api.post(ASK, {"question": "x", "sources": ["nope"]}, content_type="application/json")
    assert resp.status_code == HTTPStatus.BAD_REQUEST


def test_ask_with_an_empty_question_is_422(api):
    resp = api.post(ASK, {"question": ""}, content_type="application/json")
    assert resp.status_code == HTTPStatus.UNPROCESSABLE_ENTITY


def test_ask_is_post_only(api):
    assert api.get(ASK).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_session_clients_need_csrf_for_writes(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    resp = client.post(ASK, {"question": "x"}, content_type="application/json")
    assert resp.status_code == HTTPStatus.FORBIDDEN


def test_sync_reports_what_it_did_and_is_idempotent(api):
    first = api.post("/api/feishu/kb/sync")
    assert first.status_code == HTTPStatus.OK
    assert first.json()["failed"] == 0
    second = api.post("/api/feishu/kb/sync").json()
    assert second["queued"] == 0  # nothing changed in between
