"""Writes of the knowledge base: adding, embedding and deleting documents.
Embedding jobs are queued after the transaction commits."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from portal.knowledge import conf
from portal.knowledge import text as kbtext
from portal.knowledge.embeddings import get_embedder
from portal.knowledge.models import Chunk, Document, DocumentStatus, Source

log = logging.getLogger(__name__)

UPLOAD_TYPES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".pdf": "pdf"}


class KnowledgeError(ValueError):
    """Input the knowledge base refuses (the message is shown to the user)."""


def content_hash(title: str, content: str) -> str:
    """What a document's chunks are made from: its title, its text and the index's version
    (the chunker's, the segmenter's words), so a new way of chunking or segmenting
    re-indexes every document on its next ingest."""
    return hashlib.sha256(
        f"{kbtext.index_version()}\n\x00{title}\n\x00{content}".encode()
    ).hexdigest()


def _enqueue_embedding(document_id: int) -> None:
    from portal.knowledge.tasks import embed_document_task

    transaction.on_commit(
        lambda: embed_document_task.apply_async(args=[document_id], queue=conf.queue())
    )


def _check_caps(*, owner: Any, existing: Document | None, content: str) -> None:
    """Refuse a user's document past their caps (documents, bytes, queued embedding jobs).

    Shared documents (owner None, written by the sync) have no caps. Raises
    KnowledgeError with a message for the user.
    """
    if getattr(owner, "pk", None) is None:
        return
    mine = Document.objects.owned_by(owner)
    if existing is not None:
        mine = mine.exclude(pk=existing.pk)
    if existing is None and mine.count() >= conf.max_documents_per_user():
        raise KnowledgeError(
            _("You already have %(n)d documents, the most one person may keep. Delete some first.")
            % {"n": conf.max_documents_per_user()}
        )
    used = sum(len(c.encode()) for c in mine.values_list("content", flat=True))
    if used + len(content.encode()) > conf.max_bytes_per_user():
        raise KnowledgeError(
            _("Your documents would exceed %(limit)d KiB of text. Delete some first.")
            % {"limit": conf.max_bytes_per_user() // 1024}
        )
    queued = mine.filter(status__in=[DocumentStatus.PENDING, DocumentStatus.EMBEDDING]).count()
    if queued >= conf.max_queued_per_user():
        raise KnowledgeError(
            _("%(n)d of your documents are still being embedded. Wait for them to finish.")
            % {"n": queued}
        )


@transaction.atomic
def upsert_document(
    *,
    owner: Any,
    source: str,
    source_key: str,
    title: str,
    content: str,
    url: str = "",
    meta: dict[str, Any] | None = None,
) -> tuple[Document, bool]:
    """Create or update a document; returns (document, queued for embedding).

    Unchanged content (same hash) is a no-op; changed content keeps the old
    chunks searchable until the embedding job swaps them in one transaction.
    A user's own documents count against their caps (KnowledgeError past them).
    """
    title = title.strip()[:300] or _("Untitled")
    content = content.replace("\x00", "").strip()
    if not content:
        raise KnowledgeError(_("The document is empty."))
    meta = meta or {}
    digest = content_hash(title, content)
    doc = (
        Document.objects.select_for_update()
        .filter(owner=owner, source=source, source_key=source_key)
        .first()
    )
    if doc is not None and doc.content_hash == digest and doc.status != DocumentStatus.FAILED:
        if doc.url != url or doc.meta != meta:
            doc.url, doc.meta = url, meta
            doc.save(update_fields=["url", "meta", "updated_at"])
            Chunk.objects.filter(document=doc).update(**chunk_meta(doc))
        return doc, False
    _check_caps(owner=owner, existing=doc, content=content)
    if doc is None:
        doc = Document(owner=owner, source=source, source_key=source_key)
    doc.title, doc.content, doc.url, doc.content_hash = title, content, url, digest
    doc.meta = meta
    doc.status, doc.progress, doc.error = DocumentStatus.PENDING, 0.0, ""
    doc.save()
    _enqueue_embedding(doc.pk)
    return doc, True


def chunk_meta(doc: Document) -> dict[str, Any]:
    """The typed chunk columns (kind, week, phase, paper_id) from a document's meta."""
    meta = doc.meta or {}

    def number(key: str) -> int | None:
        value = meta.get(key)
        return int(value) if isinstance(value, int) and 0 < value < 1000 else None

    return {
        "kind": str(meta.get("kind") or doc.source)[:20],
        "week": number("week"),
        "phase": number("phase"),
        "paper_id": str(meta.get("paper_id") or "")[:40],
    }


def _check_upload_size(size: int) -> None:
    limit = conf.upload_max_bytes()
    if size > limit:
        raise KnowledgeError(
            _("The file is too large (%(size)d KiB; the limit is %(limit)d KiB).")
            % {"size": size // 1024, "limit": limit // 1024}
        )


def read_upload(file: Any) -> bytes:
    """The bytes of an uploaded file, refusing an oversized one before reading it into memory."""
    _check_upload_size(int(file.size or 0))
    return file.read(conf.upload_max_bytes() + 1)


def extract_upload_text(filename: str, data: bytes) -> str:
    """Plain text of an uploaded Markdown, text or PDF file, within the size limit."""
    _check_upload_size(len(data))
    kind = UPLOAD_TYPES.get(PurePath(filename).suffix.lower())
    if kind is None:
        raise KnowledgeError(_("Only Markdown, plain text and PDF files can be uploaded."))
    if kind == "pdf":
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            reader = PdfReader(io.BytesIO(data))
            pages = [page.extract_text() or "" for page in reader.pages]
        except (PdfReadError, ValueError, KeyError, TypeError) as exc:
            raise KnowledgeError(
                _("The PDF could not be read: %(error)s") % {"error": exc}
            ) from exc
        page_label = _("Page")
        return "\n\n".join(
            f"## {page_label} {i}\n{page}" for i, page in enumerate(pages, 1) if page.strip()
        )
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise KnowledgeError(_("The file is not UTF-8 or GB18030 text."))


def add_upload(*, owner: Any, filename: str, data: bytes, title: str = "") -> tuple[Document, bool]:
    text = extract_upload_text(filename, data)
    name = PurePath(filename).name[:150]
    return upsert_document(
        owner=owner,
        source=Source.UPLOAD,
        source_key=f"file:{name}",
        title=title or PurePath(name).stem,
        content=text,
    )


def _passage(doc: Document, draft: kbtext.ChunkDraft) -> str:
    """What is embedded and indexed: the text with its document title and section path."""
    head = f"{doc.title} / {draft.section}" if draft.section else doc.title
    return f"{head}\n{draft.text}"


def embed_document(
    document_id: int, *, on_progress: Callable[[float], None] | None = None
) -> Document | None:
    """Chunk and embed a document, then swap its chunks atomically. Safe to run twice.

    Vectors of chunks whose text is unchanged are reused rather than recomputed.
    """
    doc = Document.objects.filter(pk=document_id).first()
    if doc is None:
        return None
    if doc.status == DocumentStatus.READY and doc.embedded_hash == doc.content_hash:
        return doc
    target_hash = doc.content_hash
    Document.objects.filter(pk=doc.pk).update(status=DocumentStatus.EMBEDDING, progress=0.0)

    drafts = kbtext.split_text(doc.content)
    passages = [_passage(doc, d) for d in drafts]
    hashes = [hashlib.sha256(p.encode()).hexdigest() for p in passages]
    known = dict(
        Chunk.objects.filter(text_hash__in=set(hashes)).values_list("text_hash", "embedding")
    )
    todo = [i for i, h in enumerate(hashes) if h not in known]
    embedder = get_embedder()
    vectors: dict[str, Any] = dict(known)
    step = 16
    for start in range(0, len(todo), step):
        batch = todo[start : start + step]
        for i, vec in zip(
            batch, embedder.embed_passages([passages[i] for i in batch]), strict=True
        ):
            vectors[hashes[i]] = vec
        progress = min(0.99, (start + len(batch)) / max(1, len(todo)))
        Document.objects.filter(pk=doc.pk).update(progress=progress)
        if on_progress:
            on_progress(progress)

    with transaction.atomic():
        doc = Document.objects.select_for_update().get(pk=doc.pk)
        if doc.content_hash != target_hash:
            # Edited while we embedded: the job queued by that edit does the work.
            return doc
        doc.chunks.all().delete()
        meta = chunk_meta(doc)
        Chunk.objects.bulk_create(
            Chunk(
                **meta,
                document=doc,
                ordinal=i,
                section=d.section[:300],
                text=d.text,
                text_hash=hashes[i],
                search_text=kbtext.passage_words(passages[i]),
                embedding=vectors[hashes[i]],
            )
            for i, d in enumerate(drafts)
        )
        doc.status, doc.progress, doc.error = DocumentStatus.READY, 1.0, ""
        doc.chunk_count, doc.embedded_hash = len(drafts), target_hash
        doc.save(
            update_fields=[
                "status",
                "progress",
                "error",
                "chunk_count",
                "embedded_hash",
                "updated_at",
            ]
        )
    return doc


def mark_document_failed(document_id: int, error: str) -> None:
    Document.objects.filter(pk=document_id).update(status=DocumentStatus.FAILED, error=error[:2000])


def delete_document(*, document: Document) -> None:
    document.delete()


def indexing_progress() -> tuple[int, int]:
    """(ready, total) of the shared documents: the page shows "索引中 40/63" while ready < total."""
    from django.db.models import Count, Q

    counts = Document.objects.filter(owner__isnull=True).aggregate(
        total=Count("pk"), ready=Count("pk", filter=Q(status=DocumentStatus.READY))
    )
    return counts["ready"], counts["total"]
