"""Validated shapes of the knowledge-base API (/api/kb/...)."""

from __future__ import annotations

from ninja import Schema
from pydantic import Field, field_validator

from portal.knowledge.answering import MAX_QUESTION_CHARS
from portal.knowledge.models import Source


class DocumentIn(Schema):
    title: str = Field(min_length=1, max_length=300)
    content: str = Field(min_length=1)
    source_key: str = Field(default="", max_length=150)

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("content is blank")
        return value


class DocumentOut(Schema):
    id: int
    title: str
    source: str
    source_key: str
    status: str
    progress: float
    chunk_count: int
    error: str
    shared: bool
    url: str


class AskIn(Schema):
    question: str = Field(max_length=MAX_QUESTION_CHARS)
    # One source kind to answer from (curriculum, paper, lab_report, upload, plan); none: all.
    source: str | None = None
    mode: str = Field(default="auto", pattern="^(auto|quote)$")

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the question is empty")
        return value.strip()

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str | None) -> str | None:
        if value and value not in Source.values:
            raise ValueError(f"unknown source; one of {', '.join(Source.values)}")
        return value or None


class CitationOut(Schema):
    index: int
    document_id: int
    chunk_id: int
    title: str
    section: str
    source: str
    url: str
    score: float


class PassageOut(Schema):
    chunk_id: int
    document_id: int
    title: str
    section: str
    text: str
    score: float
    similarity: float
    text_rank: float
    relevant: bool


class LinkOut(Schema):
    title: str
    url: str


class AskOut(Schema):
    answer: str
    citations: list[CitationOut]
    passages: list[PassageOut]
    mode: str
    found: bool
    links: list[LinkOut]
    indexing: dict[str, int] | None


class SyncOut(Schema):
    queued: bool
    task_id: str


class Detail(Schema):
    detail: str
