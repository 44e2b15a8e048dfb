"""Answers with citations: retrieve, then generate (LLM) or quote (extractive)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.translation import gettext as _

from portal.feishu import conf
from portal.feishu import text as kbtext
from portal.feishu.llm import LLM, ChatMessage, LLMUnavailable, get_llm
from portal.feishu.retrieval import Hit, hybrid_search

log = logging.getLogger(__name__)

TOP_K = 5
CITED = 3

SYSTEM_PROMPT = (
    "You are a study assistant for someone preparing for an AI-chip application developer job. "
    "Answer ONLY from the numbered passages. Cite passages like [1]. If the passages do not "
    "contain the answer, say you do not know. Answer in the language of the question, briefly."
)


@dataclass
class Citation:
    index: int
    document_id: int
    title: str
    section: str
    source: str
    url: str
    score: float

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "document_id": self.document_id,
            "title": self.title,
            "section": self.section,
            "source": self.source,
            "url": self.url,
            "score": round(self.score, 4),
        }


@dataclass
class Answer:
    text: str
    citations: list[Citation]
    hits: list[Hit] = field(default_factory=list)
    mode: str = "extractive"
    found: bool = True


def citation_url(hit: Hit) -> str:
    """A link into the portal: the source item's own page, else the document page."""
    if hit.url:
        return hit.url
    return reverse("feishu:document", args=[hit.document_id]) + f"#chunk-{hit.chunk_id}"


def absolute(url: str) -> str:
    return url if url.startswith(("http://", "https://")) else conf.portal_base_url() + url


def _citations(hits: list[Hit]) -> list[Citation]:
    seen: dict[int, Citation] = {}
    for hit in hits:
        if hit.document_id in seen:
            continue
        seen[hit.document_id] = Citation(
            index=len(seen) + 1,
            document_id=hit.document_id,
            title=hit.title,
            section=hit.section,
            source=hit.source,
            url=citation_url(hit),
            score=hit.score,
        )
    return list(seen.values())


_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")


def _best_sentences(question: str, passage: str, limit: int = 2) -> list[str]:
    terms = set(kbtext.query_terms(question))
    sentences = [s.strip(" -*|#>") for s in _SENTENCE.findall(passage)]
    sentences = [s for s in sentences if len(s) >= 4]
    scored = sorted(
        enumerate(sentences),
        key=lambda p: (-len(terms & set(kbtext.segment(p[1]).split())), p[0]),
    )
    chosen = sorted(scored[:limit])
    return [s for _, s in chosen]


def extractive_answer(question: str, hits: list[Hit], citations: list[Citation]) -> str:
    index_of = {c.document_id: c.index for c in citations}
    lines = [_("From your knowledge base:")]
    for hit in hits[:CITED]:
        for sentence in _best_sentences(question, hit.text):
            lines.append(f"> {sentence} [{index_of[hit.document_id]}]")
    return "\n".join(lines)


def _messages(
    question: str, hits: list[Hit], citations: list[Citation], history: list[ChatMessage]
) -> list[ChatMessage]:
    index_of = {c.document_id: c.index for c in citations}
    passages = "\n\n".join(
        f"[{index_of[h.document_id]}] {h.title} — {h.section}\n{h.text}" for h in hits[:CITED]
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        *history,
        {"role": "user", "content": f"Passages:\n{passages}\n\nQuestion: {question}"},
    ]


def answer_question(
    question: str,
    *,
    user: object,
    sources: list[str] | None = None,
    history: list[ChatMessage] | None = None,
    llm: LLM | None | bool = True,
) -> Answer:
    """Answer from the knowledge base `user` can read; always with citations.

    With no relevant passage the answer says so and cites nothing rather than
    inventing. `llm=True` uses the configured generator, `None` forces extractive.
    """
    hits = hybrid_search(question, user=user, sources=sources, k=TOP_K)
    relevant = [h for h in hits if h.relevant]
    if not relevant:
        return Answer(
            text=_("I could not find anything about this in the knowledge base."),
            citations=[],
            hits=hits,
            mode="none",
            found=False,
        )
    citations = _citations(relevant[:CITED])
    generator = get_llm(user=user) if llm is True else llm
    if generator:
        try:
            generated = generator.generate(
                _messages(question, relevant, citations, history or []),
                max_tokens=conf.llm_max_tokens(),
            )
            if generated:
                return Answer(generated, citations, hits, mode=generator.name)
        except LLMUnavailable as exc:
            log.warning("LLM failed, answering extractively: %s", exc)
    return Answer(extractive_answer(question, relevant, citations), citations, hits)
