"""Answers that are never made up: quote the stored sentences, or abstain.

The default answerer quotes (never paraphrases) the sentences of the retrieved
chunks that share the most key terms with the question, each followed by its
citation. With nothing relevant it abstains: a fixed "not found" with links to
the plan and the search, and no citations. A generator (an LLM) writes the answer
only when it passed its start-up self-test, handles the question's language, and
every sentence it wrote is supported by the cited chunks (see `verify`);
otherwise the quotes are the answer. Citations are always attached by this
module, never by the model.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.translation import gettext as _

from portal.knowledge import conf
from portal.knowledge import text as kbtext
from portal.knowledge.llm import LLM, ChatMessage, LLMUnavailable, get_verified_llm, language_of
from portal.knowledge.retrieval import Hit, hybrid_search
from portal.knowledge.structured import Focus, focus_of
from portal.knowledge.verify import supported

log = logging.getLogger(__name__)

TOP_K = 6
# Quoted sentences in one answer, and at most this many from one chunk.
QUOTES = 3
QUOTES_PER_CHUNK = 2
MAX_QUESTION_CHARS = 2000

SYSTEM_PROMPT = (
    "You are a study assistant. Answer ONLY with facts from the numbered passages, in one to "
    "three short sentences, copying numbers and names exactly. If the passages do not contain "
    "the answer, reply exactly: I don't know."
)


@dataclass
class Citation:
    index: int
    document_id: int
    chunk_id: int
    title: str
    section: str
    source: str
    url: str
    score: float

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "document_id": self.document_id,
            "chunk_id": self.chunk_id,
            "title": self.title,
            "section": self.section,
            "source": self.source,
            "url": self.url,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class Quote:
    """One sentence copied from a chunk, and the citation it carries."""

    text: str
    citation: int
    chunk_id: int


@dataclass(frozen=True)
class Link:
    title: str
    url: str


@dataclass
class Answer:
    text: str
    citations: list[Citation]
    hits: list[Hit] = field(default_factory=list)
    mode: str = "quote"
    found: bool = True
    quotes: list[Quote] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    focus: Focus = field(default_factory=Focus)
    # (ready, total) shared documents while the sources are still being indexed.
    indexing: tuple[int, int] | None = None


def citation_url(hit: Hit) -> str:
    """A link into the portal: the source item's own page, else the document page."""
    if hit.url:
        return hit.url
    return reverse("knowledge:document", args=[hit.document_id]) + f"#chunk-{hit.chunk_id}"


# --- choosing sentences ---------------------------------------------------------------------

_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")
# English question words and their Chinese counterparts in the plan: a question in
# English still finds its sentence in a Chinese chunk.
SYNONYMS = {
    "week": "周",
    "weeks": "周",
    "phase": "阶段",
    "project": "项目",
    "projects": "项目",
    "memory": "显存",
    "quantization": "量化",
    "quantize": "量化",
    "throughput": "吞吐量",
    "paper": "论文",
    "papers": "论文",
    "time": "时间",
    "milestone": "里程碑",
    "framework": "框架",
    "milestones": "里程碑",
    "demo": "demo",
    "deployment": "部署",
    "deploy": "部署",
    "architecture": "架构",
    "layers": "层",
    "theory": "理论",
    "practice": "实践",
    "reading": "阅读",
    "monitoring": "监控",
    "features": "功能",
    "environment": "环境",
    "competition": "竞赛",
    "competitions": "竞赛",
    "labs": "实验室",
    "quantized": "量化",
    "train": "训练",
    "trains": "训练",
    "vector": "向量",
    "database": "数据库",
    "core": "核心",
    "feishu": "飞书",
    "account": "账号",
    "enterprise": "企业",
    "blog": "博客",
    "blogs": "博客",
    "community": "社群",
    "dataset": "数据集",
    "datasets": "数据集",
    "goal": "目标",
    "goals": "目标",
    "split": "分配",
    "output": "产出",
    "hardware": "硬件",
    "chip": "芯片",
    "version": "版本",
}


def key_terms(question: str) -> set[str]:
    """The question's search words, plus the Chinese word for each English one we know."""
    terms = set(kbtext.query_terms(question))
    terms |= {SYNONYMS[t] for t in terms if t in SYNONYMS}
    return {t for t in terms if len(t) > 1 or not t.isascii()}


def sentences_of(hit: Hit) -> list[str]:
    """A chunk's sentences, its own heading first (a heading is a quote from the document too)."""
    out = []
    heading = hit.section.rsplit(" / ", 1)[-1].strip() if hit.section else ""
    if heading:
        out.append(heading)
    for raw in _SENTENCE.findall(hit.text):
        sentence = raw.strip(" -*|#>\t")
        sentence = re.sub(r"^\[[ xX]\]\s*", "", sentence).strip()
        if len(sentence) >= 4 and sentence not in out:
            out.append(sentence)
    return out


def _overlap(terms: set[str], sentence: str) -> float:
    words = set(kbtext.segment(sentence).split())
    shared = terms & words
    # Longer (rarer) terms weigh more than one-character ones.
    return sum(min(len(t), 4) for t in shared)


def choose_quotes(question: str, hits: list[Hit]) -> list[tuple[Hit, str]]:
    """The sentences that answer `question`: most shared key terms first, ties by hit rank.

    A sentence that shares no key term is never chosen: such an answer would be a
    guess, and the caller abstains instead.
    """
    terms = key_terms(question)
    scored: list[tuple[float, int, int, Hit, str]] = []
    for rank, hit in enumerate(hits):
        for pos, sentence in enumerate(sentences_of(hit)):
            score = _overlap(terms, sentence)
            if score > 0:
                scored.append((score, rank, pos, hit, sentence))
    scored.sort(key=lambda row: (-row[0], row[1], row[2]))
    chosen: list[tuple[Hit, str]] = []
    per_chunk: dict[int, int] = {}
    seen: set[str] = set()
    best = scored[0][0] if scored else 0
    for score, _rank, _pos, hit, sentence in scored:
        if len(chosen) == QUOTES:
            break
        # Keep to sentences nearly as good as the best one: a weak third line is noise.
        if score < best / 2 or sentence in seen or per_chunk.get(hit.chunk_id, 0) >= QUOTES_PER_CHUNK:
            continue
        chosen.append((hit, sentence))
        seen.add(sentence)
        per_chunk[hit.chunk_id] = per_chunk.get(hit.chunk_id, 0) + 1
    return chosen


def _citations(chosen: list[tuple[Hit, str]]) -> tuple[list[Citation], list[Quote]]:
    citations: dict[int, Citation] = {}
    quotes = []
    for hit, sentence in chosen:
        citation = citations.get(hit.chunk_id)
        if citation is None:
            citation = citations[hit.chunk_id] = Citation(
                index=len(citations) + 1,
                document_id=hit.document_id,
                chunk_id=hit.chunk_id,
                title=hit.title,
                section=hit.section,
                source=hit.source,
                url=citation_url(hit),
                score=hit.score,
            )
        quotes.append(Quote(sentence, citation.index, hit.chunk_id))
    return list(citations.values()), quotes


def quoted_text(quotes: list[Quote]) -> str:
    return "\n".join(f"> {q.text} [{q.citation}]" for q in quotes)


# --- abstaining and indexing --------------------------------------------------------------


def not_found_links(question: str) -> list[Link]:
    from urllib.parse import urlencode

    return [
        Link(_("The study plan"), reverse("curriculum:index")),
        Link(_("Search the papers"), reverse("papers:index") + "?" + urlencode({"q": question})),
    ]


def not_found_text(links: list[Link]) -> str:
    lines = [_("I could not find this in the knowledge base.")]
    lines += [f"- {link.title}: {link.url}" for link in links]
    return "\n".join(lines)


def _indexing() -> tuple[int, int] | None:
    from portal.knowledge.services import indexing_progress

    ready, total = indexing_progress()
    return (ready, total) if ready < total else None


def indexing_notice(progress: tuple[int, int]) -> str:
    return _("Indexing %(ready)d/%(total)d: this answer only uses what is indexed so far.") % {
        "ready": progress[0],
        "total": progress[1],
    }


# --- generation (only verified) ------------------------------------------------------------


def _messages(question: str, chosen_hits: list[Hit], history: list[ChatMessage]) -> list[ChatMessage]:
    passages = "\n\n".join(f"[{i}] {h.title}\n{h.text}" for i, h in enumerate(chosen_hits, 1))
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        *history[-4:],
        {"role": "user", "content": f"Passages:\n{passages}\n\nQuestion: {question}"},
    ]


def generate_verified(
    generator: LLM, question: str, hits: list[Hit], history: list[ChatMessage]
) -> str | None:
    """The generator's answer when every sentence of it is supported by `hits`; else None."""
    try:
        text = generator.generate(_messages(question, hits, history), max_tokens=conf.llm_max_tokens())
    except LLMUnavailable as exc:
        log.warning("LLM failed, quoting instead: %s", exc)
        return None
    text = re.sub(r"\s*\[\d+\]", "", text or "").strip()
    if not text or "don't know" in text.lower():
        return None
    if not supported(text, [f"{h.title}\n{h.section}\n{h.text}" for h in hits]):
        log.info("generated answer not supported by its passages; quoting instead")
        return None
    return text


# --- the service ---------------------------------------------------------------------------


def answer_question(
    question: str,
    *,
    user: object,
    sources: list[str] | None = None,
    history: list[ChatMessage] | None = None,
    llm: LLM | None | bool = True,
) -> Answer:
    """Answer from the knowledge base `user` can read (their own documents and the shared ones).

    Precondition: `question` is non-blank and at most MAX_QUESTION_CHARS (the API and
    forms check). `llm=True` uses the configured, self-tested generator when the
    question's language suits it; `None` forces quoting. Reads only: answering
    never writes a document.
    """
    question = question.strip()[:MAX_QUESTION_CHARS]
    focus = focus_of(question)
    indexing = _indexing()
    chosen: list[tuple[Hit, str]] = []
    hits: list[Hit] = []
    if focus:
        # The question names a week/phase/paper: quote its chunks when they answer it.
        hits = hybrid_search(question, user=user, sources=sources, k=TOP_K, focus=focus)
        for hit in hits:
            hit.relevant = True
        chosen = choose_quotes(question, hits)
    if not chosen:
        hits = hybrid_search(question, user=user, sources=sources, k=TOP_K)
        relevant = [h for h in hits if h.relevant]
        chosen = choose_quotes(question, relevant)
    else:
        relevant = hits
    if not chosen:
        links = not_found_links(question)
        text = not_found_text(links)
        if indexing:
            text += "\n" + indexing_notice(indexing)
        return Answer(
            text, [], hits, mode="none", found=False, links=links, focus=focus, indexing=indexing
        )
    citations, quotes = _citations(chosen)
    text = quoted_text(quotes)
    mode = "quote"
    # The language check comes first: a Chinese question never reaches (or self-tests) an
    # English-only model.
    generator = None
    if language_of(question) in conf.llm_languages():
        generator = get_verified_llm() if llm is True else llm
    if generator:
        cited_hits = [h for h in relevant if h.chunk_id in {c.chunk_id for c in citations}]
        generated = generate_verified(generator, question, cited_hits, history or [])
        if generated:
            refs = " ".join(f"[{c.index}]" for c in citations)
            text, mode = f"{generated} {refs}", generator.name
    if indexing:
        text += "\n" + indexing_notice(indexing)
    return Answer(text, citations, hits, mode=mode, quotes=quotes, focus=focus, indexing=indexing)
