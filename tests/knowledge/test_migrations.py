"""Moving the knowledge base out of the Feishu app loses nothing: a database holding
documents, chunks and conversations at feishu.0002 migrates forward intact."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("feishu", "0002_review_reminder"), ("knowledge", None)]


def _migrate(targets: list[tuple[str, str | None]]):  # noqa: ANN202
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def _latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes() if key[0] in {"feishu", "knowledge"}]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_documents_chunks_and_conversations_survive_the_move_to_the_knowledge_app(owner):
    try:
        _check_the_move(owner)
    finally:
        _migrate(_latest())  # leave the test database as the other tests expect it


def _check_the_move(owner) -> None:  # noqa: ANN001
    old = _migrate(BEFORE)
    OldDocument = old.get_model("feishu", "Document")
    OldChunk = old.get_model("feishu", "Chunk")
    Conversation = old.get_model("feishu", "Conversation")
    Turn = old.get_model("feishu", "Turn")
    doc = OldDocument.objects.create(
        owner_id=owner.pk,
        source="upload",
        source_key="file:notes.md",
        title="我的笔记",
        content="## 量化\nAWQ 保护重要权重。",
        content_hash="h1",
        embedded_hash="h1",
        status="ready",
        progress=1.0,
        chunk_count=1,
    )
    chunk = OldChunk.objects.create(
        document=doc,
        ordinal=0,
        section="量化",
        text="AWQ 保护重要权重。",
        text_hash="t1",
        search_text="awq 保护 重要 权重",
        embedding=[0.5] * 384,
    )
    convo = Conversation.objects.create(chat_id="oc_1", thread_key="", user_id=owner.pk)
    Turn.objects.create(conversation=convo, role="user", content="AWQ 是什么？")

    new = _migrate(_latest())
    Document = new.get_model("knowledge", "Document")
    Chunk = new.get_model("knowledge", "Chunk")
    moved = Document.objects.get(pk=doc.pk)
    assert (moved.owner_id, moved.title, moved.status, moved.content_hash) == (
        owner.pk,
        "我的笔记",
        "ready",
        "h1",
    )
    moved_chunk = Chunk.objects.get(pk=chunk.pk)
    assert moved_chunk.document_id == doc.pk and moved_chunk.text == "AWQ 保护重要权重。"
    assert list(moved_chunk.embedding[:2]) == [0.5, 0.5]
    assert new.get_model("feishu", "Turn").objects.get().content == "AWQ 是什么？"
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    assert {"knowledge_document", "knowledge_chunk"} <= set(tables)
    assert not {"feishu_document", "feishu_chunk"} & set(tables)

    # The full-text column is still generated from the moved rows, and new rows get ids
    # after the old ones (the identity sequences came along).
    from portal.knowledge.models import Chunk as LiveChunk
    from portal.knowledge.models import Document as LiveDocument

    assert LiveChunk.objects.filter(search_vector="awq").count() == 1
    fresh = LiveDocument.objects.create(
        source="upload", source_key="k", title="t", content="c", content_hash="x"
    )
    assert fresh.pk > doc.pk

    # And back: unapplying the move keeps the rows too.
    back = _migrate(BEFORE)
    assert back.get_model("feishu", "Chunk").objects.get(pk=chunk.pk).text == "AWQ 保护重要权重。"
