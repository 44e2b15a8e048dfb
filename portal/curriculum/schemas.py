from __future__ import annotations

import datetime as dt

from ninja import Schema
from pydantic import Field, StrictBool, field_validator

# Limits keep one review a readable page and the database safe from megabyte posts.
MAX_TEXT = 2000
MAX_LINES = 50
MAX_HOURS_PER_WEEK = 168


def _clean_lines(values: list[str]) -> list[str]:
    return [v.strip() for v in values if v.strip()]


class ProblemIn(Schema):
    problem: str = Field(min_length=1, max_length=MAX_TEXT)
    solution: str = Field(default="", max_length=MAX_TEXT)


class HoursIn(Schema):
    theory: float = Field(default=0, ge=0, le=MAX_HOURS_PER_WEEK)
    practice: float = Field(default=0, ge=0, le=MAX_HOURS_PER_WEEK)
    papers: float = Field(default=0, ge=0, le=MAX_HOURS_PER_WEEK)
    demo: float = Field(default=0, ge=0, le=MAX_HOURS_PER_WEEK)


class ReviewIn(Schema):
    completed: list[str] = Field(default_factory=list, max_length=MAX_LINES)
    problems: list[ProblemIn] = Field(default_factory=list, max_length=MAX_LINES)
    next_plan: list[str] = Field(default_factory=list, max_length=MAX_LINES)
    hours: HoursIn = Field(default_factory=HoursIn)

    @field_validator("completed", "next_plan")
    @classmethod
    def _lines(cls, values: list[str]) -> list[str]:
        for v in values:
            if len(v) > MAX_TEXT:
                raise ValueError(f"each line must be at most {MAX_TEXT} characters")
        return _clean_lines(values)

    @field_validator("hours")
    @classmethod
    def _week_has_168_hours(cls, hours: HoursIn) -> HoursIn:
        if hours.theory + hours.practice + hours.papers + hours.demo > MAX_HOURS_PER_WEEK:
            raise ValueError("a week has at most 168 hours")
        return hours


class ReviewOut(Schema):
    week: int
    completed: list[str]
    problems: list[ProblemIn]
    next_plan: list[str]
    hours: dict[str, float]
    created_at: dt.datetime
    updated_at: dt.datetime


class ReadingOut(Schema):
    arxiv_id: str
    title: str


class WeekOut(Schema):
    number: int
    phase: int
    phase_title: str
    title: str
    goals: list[str]
    topics: list[str]
    project: str
    # The papers the week reads: the same weeks appear as `curriculum_weeks` in /api/papers/{id}.
    readings: list[ReadingOut]
    start_date: dt.date | None = None
    current: bool = False


class ItemOut(Schema):
    id: int
    slug: str
    kind: str
    week: int | None
    group: str
    title: str
    category: str
    done: bool
    done_at: dt.datetime | None


class ItemDoneIn(Schema):
    done: StrictBool


class PhaseProgressOut(Schema):
    number: int
    title: str
    done: int
    total: int
    percent: float


class OnTrackOut(Schema):
    status: str
    current_week: int | None
    expected: int | None
    done: int
    behind: int
    ahead: int


class ProgressOut(Schema):
    percent: float
    done: int
    total: int
    phases: list[PhaseProgressOut]
    goals: dict[str, PhaseProgressOut]
    on_track: OnTrackOut
    hours: dict[str, float]
    streak: int
    papers_read: int | None
    papers_goal: int


class StartDateIn(Schema):
    start_date: dt.date
