"""The labelled question set over the study plan and papers (shared by the test and the bench)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
_HEADING = re.compile(r"^(#{1,4})\s+(.+?)\s*$")


def plan_sections() -> list[tuple[str, str]]:
    """The plan split at its headings into (title, Markdown) — one document per section,
    as the curriculum app provides weeks and checklists."""
    sections: list[tuple[str, list[str]]] = []
    in_fence = False
    for line in (DATA / "plan.md").read_text().splitlines():
        if line.strip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            sections.append((match.group(2), [line]))
        elif sections:
            sections[-1][1].append(line)
    out = []
    for title, lines in sections:
        body = "\n".join(lines[1:]).strip().strip("-").strip()
        if len(body) > 20:
            out.append((title, "\n".join(lines)))
    return out


def papers() -> list[dict[str, str]]:
    return json.loads((DATA / "papers.json").read_text())


def questions() -> list[dict[str, str]]:
    return json.loads((DATA / "qa_labelled.json").read_text())


def load_knowledge_base(*, embed: bool = True) -> list[Any]:
    """Create (and embed in-process) the plan sections and the papers as shared documents."""
    from portal.knowledge.models import Source
    from portal.knowledge.services import embed_document, upsert_document

    docs = []
    for i, (title, text) in enumerate(plan_sections()):
        doc, _q = upsert_document(
            owner=None, source=Source.CURRICULUM, source_key=f"plan:{i}", title=title, content=text
        )
        docs.append(doc)
    for paper in papers():
        content = f"# {paper['title']}\narXiv: {paper['arxiv_id']}\n\n{paper['abstract']}\n\n### Notes\n{paper['notes']}"
        doc, _q = upsert_document(
            owner=None,
            source=Source.PAPER,
            source_key=f"paper:{paper['arxiv_id']}",
            title=paper["title"],
            content=content,
        )
        docs.append(doc)
    if embed:
        for doc in docs:
            embed_document(doc.pk)
    return docs


@dataclass
class Graded:
    question: str
    expected: str
    cited: list[str]

    @property
    def ok(self) -> bool:
        return self.expected in self.cited[:3]


def grade(user: Any = None) -> list[Graded]:
    from portal.knowledge.answering import answer_question

    results = []
    for item in questions():
        answer = answer_question(item["q"], user=user, llm=None)
        results.append(Graded(item["q"], item["expect"], [c.title for c in answer.citations]))
    return results
