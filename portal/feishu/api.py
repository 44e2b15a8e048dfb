"""Knowledge-base API, mounted at /api/feishu/: documents, ask, sync."""

from __future__ import annotations

from http import HTTPStatus

from django.db import transaction
from django.http import HttpRequest
from ninja import File, Form, Router, Status, UploadedFile

from portal.feishu import services
from portal.feishu.answering import answer_question
from portal.feishu.models import Document, Source
from portal.feishu.schemas import (
    AskIn,
    AskOut,
    Detail,
    DocumentIn,
    DocumentOut,
    SyncOut,
)

router = Router()


def _out(doc: Document) -> DocumentOut:
    return DocumentOut(
        id=doc.pk,
        title=doc.title,
        source=doc.source,
        source_key=doc.source_key,
        status=doc.status,
        progress=doc.progress,
        chunk_count=doc.chunk_count,
        error=doc.error,
        shared=doc.owner_id is None,
        url=doc.url,
    )


@router.get("/kb/documents", response=list[DocumentOut], url_name="kb_documents")
def list_documents(request: HttpRequest, source: str = "") -> list[DocumentOut]:
    docs = Document.objects.visible_to(request.user)
    if source:
        docs = docs.filter(source=source)
    return [_out(d) for d in docs]


@router.post(
    "/kb/documents",
    response={201: DocumentOut, 200: DocumentOut, 400: Detail},
    url_name="kb_documents_create",
)
def create_document(request: HttpRequest, payload: DocumentIn) -> Status:
    """Add a Markdown/text document as JSON; re-posting identical content is a no-op (200)."""
    key = payload.source_key or f"api:{payload.title.strip()[:140]}"
    try:
        doc, queued = services.upsert_document(
            owner=request.user,
            source=Source.UPLOAD,
            source_key=key,
            title=payload.title,
            content=payload.content,
        )
    except services.KnowledgeError as exc:
        return Status(HTTPStatus.BAD_REQUEST, {"detail": str(exc)})
    return Status(HTTPStatus.CREATED if queued else HTTPStatus.OK, _out(doc))


@router.post(
    "/kb/documents/upload",
    response={201: DocumentOut, 200: DocumentOut, 400: Detail},
    url_name="kb_documents_upload",
)
def upload_document(
    request: HttpRequest, file: File[UploadedFile], title: Form[str] = ""
) -> Status:
    """Upload a Markdown, text or PDF file (multipart, field `file`)."""
    try:
        doc, queued = services.add_upload(
            owner=request.user,
            filename=file.name or "upload.txt",
            data=services.read_upload(file),
            title=title,
        )
    except services.KnowledgeError as exc:
        return Status(HTTPStatus.BAD_REQUEST, {"detail": str(exc)})
    return Status(HTTPStatus.CREATED if queued else HTTPStatus.OK, _out(doc))


@router.get(
    "/kb/documents/{doc_id}", response={200: DocumentOut, 404: Detail}, url_name="kb_document"
)
def get_document(request: HttpRequest, doc_id: int) -> Status:
    doc = Document.objects.visible_to(request.user).filter(pk=doc_id).first()
    if doc is None:
        return Status(HTTPStatus.NOT_FOUND, {"detail": "no such document"})
    return Status(HTTPStatus.OK, _out(doc))


@router.delete("/kb/documents/{doc_id}", response={204: None, 404: Detail})
def delete_document(request: HttpRequest, doc_id: int) -> Status:
    doc = Document.objects.owned_by(request.user).filter(pk=doc_id).first()
    if doc is None:
        return Status(HTTPStatus.NOT_FOUND, {"detail": "no such document of yours"})
    services.delete_document(document=doc)
    return Status(HTTPStatus.NO_CONTENT, None)


@router.post("/kb/ask", response={200: AskOut, 400: Detail}, url_name="kb_ask")
def ask(request: HttpRequest, payload: AskIn) -> Status:
    unknown = set(payload.sources) - set(Source.values)
    if unknown:
        return Status(HTTPStatus.BAD_REQUEST, {"detail": f"unknown sources: {sorted(unknown)}"})
    answer = answer_question(
        payload.question,
        user=request.user,
        sources=payload.sources or None,
        llm=None if payload.mode == "extractive" else True,
    )
    return Status(
        HTTPStatus.OK,
        {
            "answer": answer.text,
            "citations": [c.as_dict() for c in answer.citations],
            "passages": [
                {
                    "chunk_id": h.chunk_id,
                    "document_id": h.document_id,
                    "title": h.title,
                    "section": h.section,
                    "text": h.text,
                    "score": h.score,
                    "similarity": h.similarity,
                    "text_rank": h.text_rank,
                    "relevant": h.relevant,
                }
                for h in answer.hits
            ],
            "mode": answer.mode,
            "found": answer.found,
        },
    )


@router.post("/kb/sync", response={200: SyncOut}, url_name="kb_sync")
def sync(request: HttpRequest) -> Status:
    """Ingest the curriculum, papers and lab reports now (beat also does it every 30 min).

    Idempotent: unchanged items are no-ops; embedding runs in Celery.
    """
    from portal.feishu.sources import sync_sources

    with transaction.atomic():
        counts = sync_sources()
    return Status(HTTPStatus.OK, counts)
