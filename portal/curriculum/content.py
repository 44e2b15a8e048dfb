"""The shape of the content files under `content/`, validated before anything is written."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from portal.core.yamlfiles import read_yaml
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


class DemoIn(_Strict):
    """One of the plan's three demos ("Demo 1: 大模型部署优化 ⭐⭐⭐⭐⭐")."""

    number: int = Field(ge=1, le=3)
    title: str
    stars: int = Field(ge=1, le=5)
    project: str = ""


class ProjectIn(_Strict):
    title: str
    description: str
    deliverables: list[str] = []
    lab: str = ""
    demo: DemoIn | None = None


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
    # The plan's 16周实践计划 row for this phase: Kaggle活动, 实践项目, 产出.
    kaggle_activity: str = ""
    practice: str = ""
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

    @model_validator(mode="after")
    def _references_agree(self) -> Content:
        """A task reads only its week's readings, nothing is listed twice, each demo once."""
        for phase in self.phases:
            for week in phase.weeks:
                read = [r.arxiv_id for r in week.readings]
                if len(set(read)) != len(read):
                    raise ValueError(f"week {week.number} lists a reading twice: {read}")
                stray = sorted({a for t in week.tasks for a in t.papers} - set(read))
                if stray:
                    raise ValueError(
                        f"week {week.number}: tasks cite papers that are not its readings: {stray}"
                    )
                urls = [str(r.url) for r in week.resources]
                if len(set(urls)) != len(urls):
                    raise ValueError(f"week {week.number} lists a resource URL twice")
        guide_urls = [str(e.url) for es in self.guide.sections.values() for e in es if e.url]
        twice = sorted({u for u in guide_urls if guide_urls.count(u) > 1})
        if twice:
            raise ValueError(f"guide URLs listed twice: {twice}")
        demos = sorted(
            w.project.demo.number for p in self.phases for w in p.weeks if w.project.demo
        )
        if demos and demos != [1, 2, 3]:
            raise ValueError(f"the plan's demos 1-3 must each be one week's project, got {demos}")
        return self


def reading_weeks(content: Content) -> dict[str, list[int]]:
    """Each arXiv id the weeks' readings cite, with the weeks (ascending) that cite it.

    The one source of a paper's curriculum weeks: the papers app derives its
    `curriculum_weeks` from this instead of keeping its own copy.
    """
    weeks: dict[str, set[int]] = {}
    for phase in content.phases:
        for week in phase.weeks:
            for reading in week.readings:
                weeks.setdefault(reading.arxiv_id, set()).add(week.number)
    return {arxiv_id: sorted(numbers) for arxiv_id, numbers in sorted(weeks.items())}


def read_content(directory: Path = CONTENT_DIR) -> Content:
    """Read and validate every content file; raises ValueError (pydantic) on bad content."""
    phases = [
        PhaseFile.model_validate(read_yaml(path)) for path in sorted(directory.glob("phase*.yaml"))
    ]
    goals = read_yaml(directory / "goals.yaml")
    guide = read_yaml(directory / "guide.yaml")
    return Content.model_validate({"phases": phases, "goals": goals, "guide": guide})
