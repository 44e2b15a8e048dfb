"""Hostile uploads and documents for the knowledge base: 4xx with a message, stored inert, never 500."""

from __future__ import annotations

import io
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal.knowledge.models import Document

pytestmark = pytest.mark.django_db

UPLOAD = "/api/kb/documents/upload"


@pytest.fixture(autouse=True)
def _no_embedding_jobs(monkeypatch) -> None:
    from celery.app.task import Task

    monkeypatch.setattr(Task, "apply_async", lambda self, *args, **kwargs: None)


def test_nul_bytes_in_an_uploaded_text_file_are_dropped_not_a_server_error(api, owner_client):
    upload = SimpleUploadedFile("nul.md", b"# Title\nbefore\x00after")
    response = api.post(UPLOAD, {"file": upload})

    assert response.status_code == HTTPStatus.CREATED, response.content
    assert Document.objects.get(pk=response.json()["id"]).content.endswith("beforeafter")

    upload = SimpleUploadedFile("nul2.txt", b"x\x00y")
    response = owner_client.post(reverse("knowledge:upload"), {"file": upload})
    assert response.status_code == HTTPStatus.FOUND


def test_an_upload_over_the_limit_is_refused_before_it_is_read(
    api, owner_client, settings, monkeypatch
):
    from django.core.files.uploadedfile import InMemoryUploadedFile

    def no_read(self, *args):
        raise AssertionError("an oversized upload was read")

    monkeypatch.setattr(InMemoryUploadedFile, "read", no_read)
    settings.KB_UPLOAD_MAX_BYTES = 1024

    def big() -> io.BytesIO:  # the test client reads this; the server gets an InMemoryUploadedFile
        file = io.BytesIO(b"a" * 4096)
        file.name = "big.md"
        return file

    response = api.post(UPLOAD, {"file": big()})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "KiB" in response.json()["detail"]

    response = owner_client.post(reverse("knowledge:upload"), {"file": big()})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not Document.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n garbage",
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
        b"not a pdf at all",
        b"%PDF-1.4\n" + b"[" * 5000 + b"\n%%EOF",
    ],
    ids=["garbage", "no-pages", "not-pdf", "deep-nesting"],
)
def test_malformed_pdfs_are_a_400_with_a_message(api, data):
    response = api.post(UPLOAD, {"file": SimpleUploadedFile("paper.pdf", data)})
    assert response.status_code in (HTTPStatus.BAD_REQUEST, HTTPStatus.CREATED), response.content
    assert response.status_code != HTTPStatus.INTERNAL_SERVER_ERROR


def test_path_tricks_in_the_upload_name_only_name_the_document(api):
    upload = SimpleUploadedFile("../../../etc/cron.d/evil.md", b"# x\ny")
    response = api.post(UPLOAD, {"file": upload})

    assert response.status_code == HTTPStatus.CREATED
    doc = Document.objects.get(pk=response.json()["id"])
    assert doc.source_key == "file:evil.md" and "/" not in doc.title


def test_html_in_an_uploaded_document_is_escaped_on_its_page(api, owner_client):
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    upload = SimpleUploadedFile("xss.md", f"# {payload}\n{payload}".encode())
    doc_id = api.post(UPLOAD, {"file": upload, "title": payload}).json()["id"]
    from portal.knowledge import services

    services.embed_document(doc_id)

    for url in [reverse("knowledge:document", args=[doc_id]), reverse("knowledge:index")]:
        html = owner_client.get(url).content.decode()
        assert "<script>alert(1)" not in html and "<img src=x" not in html, url
