"""Grading answers against the labelled questions in eval/questions.yaml.

Shared by bench/kb_eval.py (prints the table) and the slow test that asserts the floors
on the `test` split. Measures, per answerer:

- fact accuracy: the answer text carries the expected fact (no case, no spaces);
- citation precision: of all citations given on answerable questions, the share whose
  chunk (its title, section or text) holds the expected fact;
- abstention: off-topic questions answered with "not found" and no citations;
- fabricated sentences: answer sentences that no cited chunk supports (verify.py);
- p50 / p95 answer time.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from portal.core.yamlfiles import read_yaml

QUESTIONS = Path(__file__).resolve().parent / "eval" / "questions.yaml"


class EvalQuestion(BaseModel):
    q: str
    kind: str
    split: str
    fact: str | None = None

    @property
    def off_topic(self) -> bool:
        return self.fact is None


def load_questions(split: str | None = None) -> list[EvalQuestion]:
    data = read_yaml(QUESTIONS)
    questions = [EvalQuestion(**row) for row in data["questions"]]
    return [q for q in questions if split in (None, q.split)]


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def holds(text: str, fact: str) -> bool:
    return _norm(fact) in _norm(text)


@dataclass
class Graded:
    question: EvalQuestion
    answer: str
    found: bool
    mode: str
    seconds: float
    citations: int
    correct_citations: int
    sentences: int
    fabricated: list[str] = field(default_factory=list)

    @property
    def fact_ok(self) -> bool:
        return self.question.fact is not None and holds(self.answer, self.question.fact)

    @property
    def abstained(self) -> bool:
        return not self.found and self.citations == 0


@dataclass
class Report:
    name: str
    graded: list[Graded]

    def _answerable(self) -> list[Graded]:
        return [g for g in self.graded if not g.question.off_topic]

    @property
    def fact_accuracy(self) -> float:
        rows = self._answerable()
        return sum(g.fact_ok for g in rows) / len(rows) if rows else 0.0

    @property
    def citation_precision(self) -> float:
        rows = self._answerable()
        given = sum(g.citations for g in rows)
        return sum(g.correct_citations for g in rows) / given if given else 0.0

    @property
    def abstention(self) -> float:
        rows = [g for g in self.graded if g.question.off_topic]
        return sum(g.abstained for g in rows) / len(rows) if rows else 0.0

    @property
    def fabricated_rate(self) -> float:
        sentences = sum(g.sentences for g in self.graded)
        return sum(len(g.fabricated) for g in self.graded) / sentences if sentences else 0.0

    def percentile(self, p: float) -> float:
        times = sorted(g.seconds for g in self.graded)
        if not times:
            return 0.0
        return times[min(len(times) - 1, round(p * (len(times) - 1)))]

    @property
    def p50(self) -> float:
        return statistics.median(g.seconds for g in self.graded) if self.graded else 0.0

    def misses(self) -> list[Graded]:
        return [
            g
            for g in self.graded
            if (g.question.off_topic and not g.abstained)
            or (not g.question.off_topic and not g.fact_ok)
        ]


def _answer_body(answer: object) -> str:
    """The answer's own sentences: without the indexing notice and the citation marks, and
    without the opening line that says which names the knowledge base never mentions (a
    fact about the whole knowledge base, checked by a query, that no one passage can
    support)."""
    text = str(answer.text)  # type: ignore[attr-defined]
    if getattr(answer, "indexing", None):
        text = text.rsplit("\n", 1)[0]
    if getattr(answer, "unmentioned", None):
        text = text.split("\n", 1)[-1]
    return text


def grade(question: EvalQuestion, *, answer_fn: Callable[[str], object]) -> Graded:
    from portal.knowledge.models import Chunk
    from portal.knowledge.verify import split_sentences, unsupported_sentences

    started = time.perf_counter()
    answer = answer_fn(question.q)
    seconds = time.perf_counter() - started
    cited_ids = [c.chunk_id for c in answer.citations]  # type: ignore[attr-defined]
    chunks = {c.pk: c for c in Chunk.objects.filter(pk__in=cited_ids).select_related("document")}
    passages = [
        f"{c.document.title}\n{c.section}\n{c.text}"
        for c in (chunks.get(i) for i in cited_ids)
        if c
    ]
    correct = (
        sum(1 for p in passages if holds(p, question.fact)) if question.fact is not None else 0
    )
    body = _answer_body(answer) if answer.found else ""  # type: ignore[attr-defined]
    return Graded(
        question=question,
        answer=str(answer.text),  # type: ignore[attr-defined]
        found=bool(answer.found),  # type: ignore[attr-defined]
        mode=str(answer.mode),  # type: ignore[attr-defined]
        seconds=seconds,
        citations=len(cited_ids),
        correct_citations=correct,
        sentences=len(split_sentences(body)),
        fabricated=unsupported_sentences(body, passages) if body else [],
    )


def evaluate(
    name: str, questions: list[EvalQuestion], *, answer_fn: Callable[[str], object]
) -> Report:
    return Report(name, [grade(q, answer_fn=answer_fn) for q in questions])


def build_knowledge_base() -> dict[str, int]:
    """The product's own path: load the plan, curriculum and core papers, sync them into
    the knowledge base and embed every shared document in this process."""
    from django.core.management import call_command

    from portal.knowledge.models import Document, DocumentStatus
    from portal.knowledge.services import embed_document
    from portal.knowledge.sources import sync_sources

    call_command("loadcurriculum", verbosity=0)
    call_command("loadpapers", verbosity=0)
    counts = sync_sources()
    pending = Document.objects.filter(owner__isnull=True).exclude(status=DocumentStatus.READY)
    for pk in pending.values_list("pk", flat=True):
        embed_document(pk)
    return counts


def table(reports: list[Report]) -> str:
    head = (
        "| answerer | questions | fact in answer | citation precision | off-topic abstained "
        "| fabricated sentences | p50 s | p95 s |\n|---|---|---|---|---|---|---|---|"
    )
    rows = [
        f"| {r.name} | {len(r.graded)} | {r.fact_accuracy:.1%} | {r.citation_precision:.1%} "
        f"| {r.abstention:.1%} | {r.fabricated_rate:.1%} | {r.p50:.3f} | {r.percentile(0.95):.3f} |"
        for r in reports
    ]
    return "\n".join([head, *rows])
