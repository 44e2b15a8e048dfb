"""Knowledge-base pages: access, asking, uploads, htmx partials, indexing progress."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal.knowledge import services
from portal.knowledge.models import Document, Source
from tests.conftest import tasks_on_commit

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


def test_pages_redirect_anonymous_users_to_login(client):
    resp = client.get(reverse("knowledge:index"))
    assert resp.status_code == HTTPStatus.FOUND
    assert "/login" in resp["Location"]


def test_the_index_lists_documents_with_chunk_counts(owner_client, my_doc):
    resp = owner_client.get(reverse("knowledge:index"))
    assert resp.status_code == HTTPStatus.OK
    body = resp.content.decode()
    assert "CUDA 笔记" in body
    assert 'id="kb-documents"' in body


def test_asking_on_the_page_shows_the_answer_citations_and_scores(owner_client, my_doc):
    resp = owner_client.get(reverse("knowledge:index"), {"q": "共享内存在哪里共享？"})
    body = resp.content.decode()
    assert "共享内存在一个线程块内共享" in body
    assert reverse("knowledge:document", args=[my_doc.pk]) in body
    assert "RRF" in body


def test_a_name_the_knowledge_base_never_mentions_is_named_in_the_not_found(owner_client, my_doc):
    resp = owner_client.get(reverse("knowledge:index"), {"q": "TensorRT-LLM 的共享内存怎么用？"})
    body = resp.content.decode()
    assert "知识库中没有找到与此相关的内容" in body
    assert "知识库中没有提到 TensorRT-LLM" in body
    assert "kb-quote" not in body and "kb-citations" not in body  # no quote, no source


def test_a_belief_naming_what_the_knowledge_base_never_mentions_gets_both(owner_client, my_doc):
    resp = owner_client.get(reverse("knowledge:index"), {"q": "共享内存是在 TensorRT 里共享的吧？"})
    body = resp.content.decode()
    assert "知识库中没有提到 TensorRT" in body
    assert "共享内存在一个线程块内共享" in body and "kb-citations" in body


def test_an_htmx_ask_renders_only_the_answer_partial(owner_client, my_doc):
    resp = owner_client.get(
        reverse("knowledge:index"),
        {"q": "共享内存"},
        headers={"HX-Request": "true", "HX-Target": "kb-answer"},
    )
    body = resp.content.decode()
    assert body.strip().startswith('<div id="kb-answer">')
    assert "<html" not in body


def test_uploading_through_the_form(owner_client, owner, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("week.md", "# 第3周\nTriton 入门。".encode())
    with django_capture_on_commit_callbacks() as queued:
        resp = owner_client.post(reverse("knowledge:upload"), {"file": upload, "title": ""})
    assert resp.status_code == HTTPStatus.FOUND
    assert Document.objects.get(owner=owner).title == "week"
    assert len(tasks_on_commit(queued)) == 1


def test_a_bad_upload_shows_the_form_again_with_the_error(owner_client):
    upload = SimpleUploadedFile("a.docx", b"PK")
    resp = owner_client.post(reverse("knowledge:upload"), {"file": upload})
    assert resp.status_code == HTTPStatus.BAD_REQUEST
    assert "PDF" in resp.content.decode()


def test_upload_is_post_only(owner_client):
    assert (
        owner_client.get(reverse("knowledge:upload")).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    )


def test_another_users_document_page_is_404(other_client, my_doc):
    assert (
        other_client.get(reverse("knowledge:document", args=[my_doc.pk])).status_code
        == HTTPStatus.NOT_FOUND
    )
    resp = other_client.post(reverse("knowledge:delete", args=[my_doc.pk]))
    assert resp.status_code == HTTPStatus.NOT_FOUND
    assert Document.objects.filter(pk=my_doc.pk).exists()


def test_the_document_page_shows_its_chunks_with_anchors(owner_client, my_doc):
    chunk = my_doc.chunks.get()
    body = owner_client.get(reverse("knowledge:document", args=[my_doc.pk])).content.decode()
    assert f'id="chunk-{chunk.pk}"' in body


def test_the_page_is_chinese_by_default(owner_client):
    body = owner_client.get(reverse("knowledge:index")).content.decode()
    assert "知识库" in body and "提问" in body


def test_the_dashboard_shows_the_knowledge_base_panel(owner_client, my_doc):
    body = owner_client.get(reverse("dashboard")).content.decode()
    assert reverse("knowledge:index") in body
    assert "已就绪文档 1/1" in body
