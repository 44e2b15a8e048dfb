"""The shape of the content files under `content/`, validated before anything is written."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from portal.curriculum.models import WEEKS, GuideSection, HourCategory

CONTENT_DIR = Path(__file__).resolve().parent / "content"
SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
ARXIV_ID = r"^\d{4}\.\d{4,5}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResourceIn(_Strict):
    title: str
    url: HttpUrl
    kind: str = "doc"
    note: str = ""


class ReadingIn(_Strict):
    arxiv_id: str = Field(pattern=ARXIV_ID)
    title: str
    why: str = ""


class ProjectIn(_Strict):
    title: str
    description: str
    deliverables: list[str] = []
    lab: str = ""


class TaskIn(_Strict):
    slug: str = Field(pattern=SLUG, max_length=120)
    group: str = ""
    title: str = Field(max_length=300)
    detail: str = ""
    category: HourCategory = HourCategory.PRACTICE
    labs: list[str] = []
    papers: list[str] = []
    skills: list[str] = []


class WeekIn(_Strict):
    number: int = Field(ge=1, le=WEEKS)
    title: str
    summary: str = ""
    goals: list[str]
    topics: list[str]
    resources: list[ResourceIn]
    project: ProjectIn
    kaggle: str = ""
    readings: list[ReadingIn] = []
    labs: list[str] = []
    tasks: list[TaskIn]


class PhaseIn(_Strict):
    slug: str = Field(pattern=SLUG)
    number: int = Field(ge=1, le=4)
    title: str
    focus: str
    project: str
    milestone: str
    kaggle: str
    output: str = ""
    summary: str = ""
    weeks: tuple[int, int]


class PhaseFile(_Strict):
    phase: PhaseIn
    weeks: list[WeekIn]

    @model_validator(mode="after")
    def _weeks_match_phase(self) -> PhaseFile:
        first, last = self.phase.weeks
        numbers = [w.number for w in self.weeks]
        if numbers != list(range(first, last + 1)):
            raise ValueError(
                f"phase {self.phase.slug} lists weeks {numbers}, expected {first}-{last}"
            )
        return self


class GoalIn(_Strict):
    slug: str = Field(pattern=SLUG, max_length=120)
    title: str
    detail: str = ""
    labs: list[str] = []
    papers: list[str] = []


class GoalGroupIn(_Strict):
    group: str
    items: list[GoalIn]


class GoalsFile(_Strict):
    skill: list[GoalGroupIn]
    output: list[GoalGroupIn]


class GuideEntryIn(_Strict):
    slug: str = Field(pattern=SLUG, max_length=120)
    title: str
    body: str = ""
    url: HttpUrl | None = None
    data: dict = {}


class GuideFile(_Strict):
    sections: dict[GuideSection, list[GuideEntryIn]]


class Content(_Strict):
    phases: list[PhaseFile]
    goals: GoalsFile
    guide: GuideFile

    @model_validator(mode="after")
    def _consistent(self) -> Content:
        numbers = sorted(w.number for p in self.phases for w in p.weeks)
        if numbers != list(range(1, WEEKS + 1)):
            raise ValueError(f"the plan must have weeks 1-{WEEKS}, got {numbers}")
        slugs = [t.slug for p in self.phases for w in p.weeks for t in w.tasks]
        skills = [g.slug for grp in self.goals.skill for g in grp.items]
        outputs = [g.slug for grp in self.goals.output for g in grp.items]
        every = slugs + skills + outputs
        dupes = sorted({s for s in every if every.count(s) > 1})
        if dupes:
            raise ValueError(f"duplicate item slugs: {dupes}")
        unknown = sorted(
            {s for p in self.phases for w in p.weeks for t in w.tasks for s in t.skills}
            - set(skills)
        )
        if unknown:
            raise ValueError(f"tasks name unknown skill goals: {unknown}")
        shares = {
            e.slug: e.data.get("share")
            for e in self.guide.sections.get(GuideSection.TIME_SPLIT, [])
        }
        planned = {c.value: c.planned_share for c in HourCategory}
        if shares != planned:
            raise ValueError(f"time_split shares {shares} differ from the plan {planned}")
        return self


def read_content(directory: Path = CONTENT_DIR) -> Content:
    """Read and validate every content file; raises ValueError (pydantic) on bad content."""
    phases = [
        PhaseFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        for path in sorted(directory.glob("phase*.yaml"))
    ]
    goals = yaml.safe_load((directory / "goals.yaml").read_text(encoding="utf-8"))
    guide = yaml.safe_load((directory / "guide.yaml").read_text(encoding="utf-8"))
    return Content.model_validate({"phases": phases, "goals": goals, "guide": guide})
