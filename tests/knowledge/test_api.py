"""/api/kb/...: documents and ask, with token and session auth."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from portal.knowledge import services
from portal.knowledge.models import Document, Source
from tests.conftest import tasks_on_commit

pytestmark = pytest.mark.django_db

DOCS = "/api/kb/documents"
ASK = "/api/kb/ask"


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
    assert len(tasks_on_commit(queued)) == 1
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
    assert data["citations"][0]["url"].startswith(f"/kb/documents/{ready_doc.pk}/#chunk-")
    assert data["mode"] == "quote"
    assert data["answer"].startswith("> ") and data["answer"].rstrip().endswith("[1]")
    assert data["passages"][0]["document_id"] == ready_doc.pk


def _field_errors(resp) -> list[list[str]]:  # noqa: ANN001
    return [e["loc"] for e in resp.json()["detail"]]


def test_ask_with_an_unknown_source_is_422_naming_the_field(api):
    resp = api.post(ASK, {"question": "x", "source": "nope"}, content_type="application/json")
    assert resp.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert ["body", "payload", "source"] in _field_errors(resp)


@pytest.mark.parametrize("question", ["", "   ", "\n\t "])
def test_ask_with_an_empty_or_blank_question_is_422_naming_the_field(api, question):
    resp = api.post(ASK, {"question": question}, content_type="application/json")
    assert resp.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert ["body", "payload", "question"] in _field_errors(resp)


def test_a_question_over_2000_characters_is_422(api):
    resp = api.post(ASK, {"question": "量" * 2001}, content_type="application/json")
    assert resp.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert ["body", "payload", "question"] in _field_errors(resp)
    ok = api.post(ASK, {"question": "量" * 2000}, content_type="application/json")
    assert ok.status_code == HTTPStatus.OK


def test_a_question_in_any_language_is_answered_or_declined_never_refused(api, ready_doc):
    for question in ("Wie schützt AWQ die Gewichte?", "AWQ はどう重みを守る？", "🙂 AWQ?"):
        resp = api.post(ASK, {"question": question}, content_type="application/json")
        assert resp.status_code == HTTPStatus.OK, question


def test_ask_with_a_source_keeps_to_it(api, ready_doc):
    resp = api.post(
        ASK,
        {"question": "AWQ 如何保护重要权重？", "source": "paper"},
        content_type="application/json",
    )
    assert resp.status_code == HTTPStatus.OK
    assert resp.json()["found"] is False and resp.json()["citations"] == []
    mine = api.post(
        ASK,
        {"question": "AWQ 如何保护重要权重？", "source": "upload"},
        content_type="application/json",
    )
    assert mine.json()["found"] is True


def test_nothing_found_is_a_fixed_answer_with_links_and_no_citations(api, ready_doc):
    resp = api.post(ASK, {"question": "今天北京天气怎么样？"}, content_type="application/json")
    data = resp.json()
    assert data["found"] is False and data["mode"] == "none"
    assert data["citations"] == []
    assert [link["url"].split("?")[0] for link in data["links"]] == ["/curriculum/", "/papers/"]


def test_asking_never_changes_another_users_documents(api, other_user):
    doc, _ = services.upsert_document(
        owner=other_user,
        source=Source.UPLOAD,
        source_key="s",
        title="别人的",
        content="## 秘密\n别人的秘密笔记。",
    )
    services.embed_document(doc.pk)
    before = Document.objects.values("pk", "content_hash", "status", "updated_at").get(pk=doc.pk)
    resp = api.post(ASK, {"question": "别人的秘密笔记是什么？"}, content_type="application/json")
    assert "秘密笔记" not in resp.json()["answer"]
    assert all(c["document_id"] != doc.pk for c in resp.json()["citations"])
    assert (
        Document.objects.values("pk", "content_hash", "status", "updated_at").get(pk=doc.pk)
        == before
    )


def test_questions_are_rate_limited_per_user_with_retry_after(api, other_client, settings):
    settings.KB_ASK_RATE_LIMIT = 2
    settings.KB_ASK_RATE_WINDOW_S = 60
    body = {"question": "AWQ？"}
    codes = [api.post(ASK, body, content_type="application/json").status_code for _ in range(3)]
    assert codes[:2] == [HTTPStatus.OK, HTTPStatus.OK]
    assert codes[2] == HTTPStatus.TOO_MANY_REQUESTS
    limited = api.post(ASK, body, content_type="application/json")
    assert 1 <= int(limited["Retry-After"]) <= 60
    # another user has their own allowance
    assert (
        other_client.post(ASK, body, content_type="application/json").status_code == HTTPStatus.OK
    )


def test_ask_is_post_only(api):
    assert api.get(ASK).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_session_clients_need_csrf_for_writes(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    resp = client.post(ASK, {"question": "x"}, content_type="application/json")
    assert resp.status_code == HTTPStatus.FORBIDDEN


def test_sync_is_staff_only(api):
    assert api.post("/api/kb/sync").status_code == HTTPStatus.FORBIDDEN
    assert Client().post("/api/kb/sync").status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sync_runs_on_a_worker_not_in_the_request(staff, plan, kb_worker):
    from tests.knowledge.conftest import wait_until

    client = Client()
    client.force_login(staff)
    resp = client.post("/api/kb/sync", headers={"X-CSRFToken": "x"})
    # session auth needs CSRF; the test client does not enforce it
    assert resp.status_code == HTTPStatus.ACCEPTED
    assert resp.json()["queued"] is True
    wait_until(
        lambda: Document.objects.filter(source=Source.CURRICULUM, source_key="week:10").exists(),
        timeout=90,
        what="the worker's sync",
    )
    wait_until(
        lambda: Document.objects.get(source_key="week:10").status == "ready",
        timeout=120,
        what="week 10 embedded",
    )


def test_the_old_api_spelling_redirects_keeping_method_and_body(api):
    resp = api.post(
        "/api/feishu/kb/ask?x=1", {"question": "AWQ？"}, content_type="application/json"
    )
    assert resp.status_code == HTTPStatus.PERMANENT_REDIRECT
    assert resp["Location"] == "/api/kb/ask?x=1"
    followed = api.post(
        "/api/feishu/kb/ask", {"question": "AWQ？"}, content_type="application/json", follow=True
    )
    assert followed.status_code == HTTPStatus.OK and "answer" in followed.json()


def test_a_user_past_their_document_cap_gets_a_400_with_a_message(api, settings):
    settings.KB_MAX_DOCUMENTS_PER_USER = 2
    for i in range(2):
        body = {"title": f"n{i}", "content": f"## {i}\n内容 {i}。"}
        assert (
            api.post(DOCS, body, content_type="application/json").status_code == HTTPStatus.CREATED
        )
    resp = api.post(
        DOCS, {"title": "n3", "content": "## 3\n内容。"}, content_type="application/json"
    )
    assert resp.status_code == HTTPStatus.BAD_REQUEST
    assert "2" in resp.json()["detail"]
    assert Document.objects.filter(title="n3").count() == 0


def test_a_user_past_their_byte_cap_gets_a_400(api, settings):
    settings.KB_MAX_BYTES_PER_USER = 100
    resp = api.post(DOCS, {"title": "big", "content": "字" * 40}, content_type="application/json")
    assert resp.status_code == HTTPStatus.BAD_REQUEST
    assert not Document.objects.filter(title="big").exists()


def test_a_user_with_too_many_queued_embeddings_waits(api, settings):
    settings.KB_MAX_QUEUED_PER_USER = 1
    first = api.post(DOCS, {"title": "a", "content": "## a\n一。"}, content_type="application/json")
    assert first.status_code == HTTPStatus.CREATED  # pending: no worker in this test
    second = api.post(
        DOCS, {"title": "b", "content": "## b\n二。"}, content_type="application/json"
    )
    assert second.status_code == HTTPStatus.BAD_REQUEST
    assert "1" in second.json()["detail"]  # how many are still being embedded
