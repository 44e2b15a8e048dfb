from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import AliasChoices, Field

from portal.papers.models import Domain, ReadingStatus

DomainValue = Literal["transformer", "attention", "quantization", "serving", "chips", "other"]
StatusValue = Literal["to_read", "reading", "read", "skipped"]

assert set(DomainValue.__args__) == set(Domain.values)  # type: ignore[attr-defined]
assert set(StatusValue.__args__) == set(ReadingStatus.values)  # type: ignore[attr-defined]


class PaperOut(Schema):
    arxiv_id: str
    title: str
    short_name: str
    authors: list[str]
    published: datetime | None
    updated: datetime | None
    version: int | None
    domain: str
    priority: int
    is_core: bool
    curriculum_weeks: list[int]
    lab_id: str
    abs_url: str
    # From an annotated Paper (with_reading) or from a dumped PaperOut.
    pdf_url: str = Field(validation_alias=AliasChoices("pdf_link", "pdf_url"))
    status: str = Field(validation_alias=AliasChoices("my_status", "status"))
    rating: int | None = Field(validation_alias=AliasChoices("my_rating", "rating"))
    tags: list[str] | None = Field(validation_alias=AliasChoices("my_tags", "tags"))


class VersionOut(Schema):
    version: int
    updated: datetime | None
    seen_at: datetime


class ReadingOut(Schema):
    status: str
    rating: int | None
    notes: str
    tags: list[str]
    read_at: datetime | None
    read_version: int | None
    newer_version_since_read: int | None


class PaperDetailOut(PaperOut):
    abstract: str
    primary_category: str
    categories: list[str]
    comment: str
    doi: str
    synced_at: datetime | None
    versions: list[VersionOut]
    reading: ReadingOut | None = None


class AddPaperIn(Schema):
    arxiv_id: str = Field(min_length=1, max_length=200, description="an arXiv id or arxiv.org URL")


class StatusIn(Schema):
    """Fields left out stay as they are; `rating: null` clears the rating."""

    status: StatusValue
    rating: int | None = Field(default=None, ge=1, le=5)
    notes: str | None = Field(default=None, max_length=50_000)
    tags: list[str] | None = Field(default=None, max_length=20)


class SyncOut(Schema):
    id: int
    kind: str
    status: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    fetched: int
    changed: int
    new_versions: int
    missing: list[str]
    error: str


class WatchIn(Schema):
    name: str = Field(default="", max_length=100)
    query: str = Field(min_length=1, max_length=500)
    max_results: int = Field(default=25, ge=1, le=200)


class WatchOut(Schema):
    id: int
    name: str
    query: str
    max_results: int
    is_active: bool
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_error: str
    last_new_count: int


class InboxItemOut(Schema):
    id: int
    arxiv_id: str = Field(validation_alias="paper.arxiv_id")
    title: str = Field(validation_alias="paper.display_title")
    watch: str | None = Field(default=None, validation_alias="watch.name")
    created_at: datetime


class RecommendationOut(Schema):
    arxiv_id: str
    title: str = Field(validation_alias="display_title")
    domain: str
    similarity: float


class ProgressOut(Schema):
    read: int
    total: int
    goal: int
    papers_read: int
