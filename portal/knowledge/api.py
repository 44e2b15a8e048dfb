"""Knowledge-base API, mounted at /api/kb/: documents, ask, sync.

The old spellings under /api/feishu/kb/ redirect here (portal/urls.py).
"""

from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import File, Form, Router, Status, UploadedFile

from portal.knowledge import conf, services
from portal.knowledge.answering import Answer, answer_question
from portal.knowledge.models import Document, Source
from portal.knowledge.schemas import AskIn, AskOut, Detail, DocumentIn, DocumentOut, SyncOut
from portal.knowledge.throttle import ask_retry_after

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


@router.get("/documents", response=list[DocumentOut], url_name="kb_documents")
def list_documents(request: HttpRequest, source: str = "") -> list[DocumentOut]:
    docs = Document.objects.visible_to(request.user)
    if source:
        docs = docs.filter(source=source)
    return [_out(d) for d in docs]


@router.post(
    "/documents",
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
    "/documents/upload",
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


@router.get("/documents/{doc_id}", response={200: DocumentOut, 404: Detail}, url_name="kb_document")
def get_document(request: HttpRequest, doc_id: int) -> Status:
    doc = Document.objects.visible_to(request.user).filter(pk=doc_id).first()
    if doc is None:
        return Status(HTTPStatus.NOT_FOUND, {"detail": "no such document"})
    return Status(HTTPStatus.OK, _out(doc))


@router.delete(
    "/documents/{doc_id}", response={204: None, 404: Detail}, url_name="kb_document_delete"
)
def delete_document(request: HttpRequest, doc_id: int) -> Status:
    doc = Document.objects.owned_by(request.user).filter(pk=doc_id).first()
    if doc is None:
        return Status(HTTPStatus.NOT_FOUND, {"detail": "no such document of yours"})
    services.delete_document(document=doc)
    return Status(HTTPStatus.NO_CONTENT, None)


def ask_payload(answer: Answer) -> dict[str, object]:
    """The API's (and the page's JSON) shape of an answer."""
    return {
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
        "links": [{"title": link.title, "url": link.url} for link in answer.links],
        "indexing": (
            {"ready": answer.indexing[0], "total": answer.indexing[1]} if answer.indexing else None
        ),
    }


@router.post("/ask", response={200: AskOut, 429: Detail}, url_name="kb_ask")
def ask(request: HttpRequest, payload: AskIn) -> Status | HttpResponse:
    """Answer a question from the caller's knowledge base: quotes with citations, or "not found"."""
    retry_after = ask_retry_after(f"user:{request.user.pk}")
    if retry_after:
        response = JsonResponse(
            {"detail": f"Too many questions; try again in {retry_after} s."},
            status=HTTPStatus.TOO_MANY_REQUESTS,
        )
        response["Retry-After"] = str(retry_after)
        return response
    answer = answer_question(
        payload.question,
        user=request.user,
        sources=[payload.source] if payload.source else None,
        llm=None if payload.mode == "quote" else True,
    )
    return Status(HTTPStatus.OK, ask_payload(answer))


@router.post("/sync", response={202: SyncOut, 403: Detail}, url_name="kb_sync")
def sync(request: HttpRequest) -> Status:
    """Staff: queue ingestion of the plan, curriculum, papers and lab reports on a worker.

    Idempotent (unchanged items are no-ops); beat also runs it every 30 minutes.
    """
    if not request.user.is_staff:
        return Status(HTTPStatus.FORBIDDEN, {"detail": "staff only"})
    from portal.knowledge.tasks import sync_sources_task

    result = sync_sources_task.apply_async(queue=conf.queue())
    return Status(HTTPStatus.ACCEPTED, {"queued": True, "task_id": result.id})
