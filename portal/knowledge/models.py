"""The knowledge base: documents (one per source item) and their chunks (pgvector + full text).

The tables were created by the Feishu app (`feishu_document`, `feishu_chunk`); migration
0001 takes them over without touching the rows and 0002 renames them. Index and
constraint names keep their original `feishu_` prefix: they are only names.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pgvector.django import HnswIndex, VectorField

EMBEDDING_DIM = 384


class Source(models.TextChoices):
    CURRICULUM = "curriculum", _("Curriculum")
    PAPER = "paper", _("Paper")
    LAB_REPORT = "lab_report", _("Lab report")
    UPLOAD = "upload", _("Upload")
    PLAN = "plan", _("Study plan")


class DocumentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    EMBEDDING = "embedding", _("Embedding")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")

    @property
    def is_busy(self) -> bool:
        return self in {DocumentStatus.PENDING, DocumentStatus.EMBEDDING}


class DocumentQuerySet(models.QuerySet["Document"]):
    def visible_to(self, user: object) -> DocumentQuerySet:
        """Shared documents (the curriculum, owner NULL) plus the user's own."""
        user_id = getattr(user, "pk", None)
        if user_id is None:
            return self.filter(owner__isnull=True)
        return self.filter(Q(owner__isnull=True) | Q(owner_id=user_id))

    def owned_by(self, user: object) -> DocumentQuerySet:
        return self.filter(owner_id=getattr(user, "pk", None))


class Document(models.Model):
    """One knowledge source item: a curriculum week, a paper, a lab report, an upload.

    `source_key` identifies the item inside its source (e.g. ``week:3``) so a
    re-ingest finds the same row; `content_hash` makes an unchanged re-ingest a no-op.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="kb_documents",
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    source_key = models.CharField(max_length=200)
    title = models.CharField(_("title"), max_length=300)
    url = models.CharField(_("link"), max_length=500, blank=True)
    content = models.TextField()
    content_hash = models.CharField(max_length=64)
    embedded_hash = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=DocumentStatus.choices, default=DocumentStatus.PENDING
    )
    progress = models.FloatField(default=0.0)
    error = models.TextField(blank=True)
    chunk_count = models.PositiveIntegerField(default=0)
    # What the item is about (week, phase, paper_id, kind), copied to its chunks so
    # retrieval can filter on it; see ChunkMeta.
    meta = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        ordering = ["source", "title", "id"]
        constraints = [
            # One row per item per owner; shared items (owner NULL) are unique on their own.
            models.UniqueConstraint(
                fields=["owner", "source", "source_key"],
                name="feishu_doc_owner_source_key_uniq",
                nulls_distinct=False,
            ),
        ]
        indexes = [
            # The document list: filter by source, newest first.
            models.Index(fields=["source", "-updated_at"], name="feishu_doc_source_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def status_enum(self) -> DocumentStatus:
        return DocumentStatus(self.status)


class Chunk(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    section = models.CharField(max_length=300, blank=True)
    text = models.TextField()
    text_hash = models.CharField(max_length=64)
    # jieba-segmented text (words separated by spaces) so the `simple` config can index Chinese.
    search_text = models.TextField()
    search_vector = models.GeneratedField(
        expression=SearchVector("search_text", config="simple"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    embedding = VectorField(dimensions=EMBEDDING_DIM)
    # Metadata from the document (Document.meta), typed so retrieval can filter on it.
    kind = models.CharField(max_length=20, blank=True)
    week = models.PositiveSmallIntegerField(null=True, blank=True)
    phase = models.PositiveSmallIntegerField(null=True, blank=True)
    paper_id = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["document_id", "ordinal"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "ordinal"], name="feishu_chunk_doc_ordinal_uniq"
            )
        ]
        indexes = [
            # Serves the vector half of hybrid retrieval: ORDER BY embedding <=> query LIMIT k.
            HnswIndex(
                name="feishu_chunk_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            # Serves the full-text half: search_vector @@ to_tsquery('simple', ...).
            GinIndex(fields=["search_vector"], name="feishu_chunk_search_gin"),
            # A question naming a week ("第10周") retrieves within that week's chunks.
            models.Index(fields=["week"], name="knowledge_chunk_week_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.ordinal}"
