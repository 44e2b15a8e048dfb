"""Ingestion: chunking, content-hash no-ops, atomic chunk replacement, uploads."""

from __future__ import annotations

import pytest

from portal.knowledge import services
from portal.knowledge.models import Chunk, Document, DocumentStatus, Source
from portal.knowledge.retrieval import hybrid_search
from portal.knowledge.text import segment, split_text, tsquery_for
from tests.conftest import tasks_on_commit

PLAN = "# 计划\n## 第一周\n学习 CUDA。完成向量加法。\n## 第二周\n学习 PyTorch 自定义算子。"


def test_chunks_never_cross_a_heading_and_carry_the_heading_path():
    drafts = split_text(PLAN)
    assert [d.section for d in drafts] == ["计划 / 第一周", "计划 / 第二周"]
    assert drafts[0].text == "学习 CUDA。完成向量加法。"


def test_long_sections_break_at_chinese_sentence_ends_with_overlap():
    sentence = "这是一个关于张量核心的句子。"  # 14 characters
    drafts = split_text("## 长节\n" + sentence * 20, max_chars=100, overlap_chars=30)
    assert len(drafts) > 2
    for d in drafts:
        assert d.text.endswith("。")
        assert len(d.text) <= 100
    # consecutive chunks share whole sentences
    assert drafts[1].text.startswith(sentence * 2)


def test_a_table_continued_in_the_next_chunk_repeats_its_header_and_lead_in():
    rows = "".join(f"| 论文{i} | ⭐⭐⭐⭐⭐ | 领域{i} |\n" for i in range(12))
    text = f"## 论文\n前言。\n**推荐阅读优先级**：\n| 论文 | 重要性 | 领域 |\n|---|---|---|\n{rows}"
    drafts = split_text(text, max_chars=120, overlap_chars=30)
    assert len(drafts) > 2
    for draft in drafts[1:]:
        assert draft.text.startswith(
            "**推荐阅读优先级**：\n| 论文 | 重要性 | 领域 |\n|---|---|---|"
        ), draft
    said = "".join(d.text for d in drafts)
    assert all(f"| 论文{i} |" in said for i in range(12))  # no row lost
    # text after the table is no table: its chunks get no header
    tail = split_text(text + "结语。" * 40, max_chars=120, overlap_chars=30)[-1]
    assert not tail.text.startswith("**推荐阅读优先级**")


def test_headings_inside_code_fences_are_not_headings():
    drafts = split_text("## 模板\n```\n## 第X周复盘\n本周完成\n```")
    assert [d.section for d in drafts] == ["模板"]


def test_chinese_is_segmented_into_search_words():
    words = segment("飞书知识库问答机器人").split()
    assert "知识库" in words and "机器人" in words
    assert tsquery_for("什么是 CUDA 的共享内存？") == "cuda | 共享 | 内存 | 共享内存"
    # "C++" is a search word of its own, not a lone "c" (no word): "cpp"
    assert segment("C++现代特性（RAII）与 c++17").split()[:3] == ["cpp", "现代", "特性"]
    assert "cpp" in tsquery_for("C++该怎么复习？") and "cpp" in segment("c++17").split()


@pytest.mark.django_db
def test_reingesting_unchanged_content_is_a_no_op(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as first:
        doc, queued = services.upsert_document(
            owner=None, source=Source.CURRICULUM, source_key="w1", title="第一周", content=PLAN
        )
    assert queued and len(tasks_on_commit(first)) == 1
    services.embed_document(doc.pk)
    with django_capture_on_commit_callbacks() as second:
        again, queued = services.upsert_document(
            owner=None, source=Source.CURRICULUM, source_key="w1", title="第一周", content=PLAN
        )
    assert (again.pk, queued, len(tasks_on_commit(second))) == (doc.pk, False, 0)
    assert Document.objects.get(pk=doc.pk).status == DocumentStatus.READY


@pytest.mark.django_db
def test_a_changed_document_replaces_its_chunks_and_keeps_the_old_ones_until_then(owner):
    doc, _ = services.upsert_document(
        owner=owner, source=Source.UPLOAD, source_key="notes", title="笔记", content=PLAN
    )
    services.embed_document(doc.pk)
    old_ids = set(Chunk.objects.filter(document=doc).values_list("pk", flat=True))
    assert len(old_ids) == 2

    services.upsert_document(
        owner=owner,
        source=Source.UPLOAD,
        source_key="notes",
        title="笔记",
        content=PLAN + "\n## 第三周\n学习 Triton 编写融合算子。",
    )
    # Until the job runs, the old chunks still answer questions.
    assert set(Chunk.objects.filter(document=doc).values_list("pk", flat=True)) == old_ids
    services.embed_document(doc.pk)
    doc.refresh_from_db()
    assert doc.status == DocumentStatus.READY
    assert doc.chunk_count == 3
    assert not old_ids & set(Chunk.objects.filter(document=doc).values_list("pk", flat=True))
    hits = hybrid_search("Triton 融合算子", user=owner, k=1)
    assert hits[0].section == "笔记 / 计划 / 第三周" or "第三周" in hits[0].section


@pytest.mark.django_db
def test_embedding_a_document_twice_does_nothing_the_second_time():
    doc, _ = services.upsert_document(
        owner=None, source=Source.CURRICULUM, source_key="w2", title="w2", content=PLAN
    )
    services.embed_document(doc.pk)
    ids = list(Chunk.objects.filter(document=doc).values_list("pk", flat=True))
    services.embed_document(doc.pk)
    assert list(Chunk.objects.filter(document=doc).values_list("pk", flat=True)) == ids


@pytest.mark.django_db
def test_an_embedding_failure_is_recorded_on_the_document(monkeypatch):
    from portal.knowledge import tasks

    doc, _ = services.upsert_document(
        owner=None, source=Source.CURRICULUM, source_key="w3", title="w3", content=PLAN
    )

    def boom(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("model file missing")

    monkeypatch.setattr(services, "embed_document", boom)
    tasks.embed_document_task.run(doc.pk)
    doc.refresh_from_db()
    assert doc.status == DocumentStatus.FAILED
    assert "model file missing" in doc.error


@pytest.mark.django_db
def test_users_only_retrieve_shared_documents_and_their_own(owner, other_user):
    mine, _ = services.upsert_document(
        owner=owner,
        source=Source.UPLOAD,
        source_key="a",
        title="私人笔记",
        content="我的秘密：算子融合技巧。",
    )
    services.embed_document(mine.pk)
    assert hybrid_search("算子融合技巧", user=owner, k=3)
    assert hybrid_search("算子融合技巧", user=other_user, k=3) == []


def test_uploads_over_the_size_limit_are_refused(settings):
    settings.KB_UPLOAD_MAX_BYTES = 1024
    with pytest.raises(services.KnowledgeError, match="1 KiB"):
        services.extract_upload_text("big.md", b"x" * 2048)


def test_only_markdown_text_and_pdf_uploads_are_accepted():
    with pytest.raises(services.KnowledgeError, match="Markdown"):
        services.extract_upload_text("run.exe", b"MZ")


def test_gb18030_text_is_decoded():
    assert services.extract_upload_text("a.txt", "量化".encode("gb18030")) == "量化"


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF with `text` in Helvetica, offsets computed so pypdf reads it strictly."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_text_is_extracted_from_a_pdf_page_by_page():
    text = services.extract_upload_text("paper.pdf", minimal_pdf("Roofline model of the TPU"))
    assert "Roofline model of the TPU" in text
    assert text.startswith("## ")


def test_a_broken_pdf_is_refused_with_a_message():
    with pytest.raises(services.KnowledgeError, match="PDF"):
        services.extract_upload_text("broken.pdf", b"%PDF-1.4 garbage")


def test_the_warm_up_switch_reads_as_every_boolean_setting(settings, monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from portal.knowledge import conf

    settings.KB_WARM_UP = None
    monkeypatch.delenv("KB_WARM_UP", raising=False)
    assert conf.warm_up() is True  # on by default
    for raw, on in (("0", False), ("off", False), ("FALSE", False), ("1", True), ("yes", True)):
        monkeypatch.setenv("KB_WARM_UP", raw)
        assert conf.warm_up() is on, raw
    settings.KB_WARM_UP = False  # a Django setting comes first
    assert conf.warm_up() is False
    settings.KB_WARM_UP = None
    monkeypatch.setenv("KB_WARM_UP", "maybe")
    with pytest.raises(ImproperlyConfigured, match="KB_WARM_UP"):
        conf.warm_up()
