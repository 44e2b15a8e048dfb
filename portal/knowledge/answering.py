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
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from functools import lru_cache

from django.urls import reverse
from django.utils.translation import gettext as _

from portal.knowledge import conf
from portal.knowledge import text as kbtext
from portal.knowledge.llm import LLM, ChatMessage, LLMUnavailable, get_verified_llm
from portal.knowledge.retrieval import (
    Hit,
    hybrid_search,
    known_words_for,
    mentioned_in_a_compound,
    mentioned_nowhere,
    phrase_search,
)
from portal.knowledge.structured import (
    EMOJI,
    NUMBER_ENDS,
    Focus,
    alternatives_offered,
    asked_clause,
    asked_part,
    asks_yes_or_no,
    checks_a_belief,
    each_part,
    excluded_names,
    excludes_a_name,
    focus_of,
    names_a_part_of_the_plan,
    names_another,
    normalise,
    phase_ended_by,
    phase_number,
    phase_of_span,
    specific_names,
    strip_focus,
    tool_asked,
    week_number,
    without_names,
    without_proposed_numbers,
    without_scene_week,
)
from portal.knowledge.verify import supported

log = logging.getLogger(__name__)

TOP_K = 20
# Chunks searched within the week/phase/paper a question names.
FOCUS_K = 10
# Chunks searched among the study plan's own sections.
PLAN_K = 8
# Chunks of a week's phase document searched with the week (its table row is one of them),
# and how much they count there: less than the week's own, which answers first.
PHASE_ROW_K = 3
PHASE_ROW_FACTOR = 0.9
# Quoted sentences in one answer, and at most this many from one chunk.
QUOTES = 3
QUOTES_PER_CHUNK = 3
# Items quoted from the list the best quote belongs to.
LIST_QUOTES = 8  # a short list (SHORT_LIST) is quoted whole
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
    # Names the question asks about that nothing the asker may read mentions.
    unmentioned: list[str] = field(default_factory=list)


def citation_url(hit: Hit) -> str:
    """A link into the portal: the source item's own page, else the document page."""
    if hit.url:
        return hit.url
    return reverse("knowledge:document", args=[hit.document_id]) + f"#chunk-{hit.chunk_id}"


# --- choosing sentences ---------------------------------------------------------------------

_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")


def key_terms(
    question: str, focus: Focus | None = None, known: Collection[str] | None = None
) -> set[str]:
    """The question's search words, plus the Chinese word for each English one we know.

    Words that only name the week or phase the question is about (第十周, W14, 第三阶段)
    are left out: retrieval already keeps to that week, and they would favour the
    headings that merely repeat them.
    """
    if focus and (focus.week or focus.phase):
        question = strip_focus(question)
    terms = set(kbtext.query_terms(question, expand=True, known=known))
    # "几层" / "哪些模型" ask about 层 / 模型: the measure word is a key term of its own.
    terms |= {t[1:] for t in terms if len(t) > 1 and t[0] in "几哪" and not t.isascii()}
    return {t for t in terms if (len(t) > 1 or not t.isascii()) and t not in _FUNCTION_CHARS}


# One-character question words that carry no topic ("用什么做", "里", "哪").
_FUNCTION_CHARS = frozenset(
    "做 用 里 哪 几 要 该 被 把 给 让 从 对 到 就 都 也 还 又 而 个 种 些 多 少".split()
)


_LIST_MARK = re.compile(r"^\s*(?:[-*>#|]+\s*|\d+[.、]\s+)*(?:\[[ xX]\]\s*)?")
_LEAD_IN_END = re.compile(r"[:：?？]\**\s*$")
# A bold label alone on its line, perhaps with a note in brackets: "- 📄 **必读论文清单**（28篇
# 核心论文）" introduces the list under it (the chunk keeps no indentation to say so).
_BOLD_LINE = re.compile(
    r"^[^\w\u4e00-\u9fff*]*\*\*[^*]+\*\*(?:\s*[（(][^）)]{1,20}[）)])?[:：]?\s*$"
)
_BOLD_NOTE = re.compile(r"\s*[（(][^）)]{1,20}[）)]\s*(?=[:：]?\s*$)")


def _is_lead_in(line: str, following: str) -> bool:
    """A line that introduces the lines after it: "**数据集资源**", "Q1: 没有GPU怎么办？",
    "16周时间分配：", or a table's header row."""
    stripped = line.strip()
    if not stripped:
        return False
    if stripped.startswith("|") and following.strip().startswith("|-"):
        return True
    return bool(_LEAD_IN_END.search(stripped) or _BOLD_LINE.match(stripped))


@dataclass(frozen=True)
class Candidate:
    """A sentence of a chunk, and the line that introduces it (its context). A lead-in that
    states something is a candidate too ("Day 5-7: 第一个项目"): `items` is then the context
    of the lines it introduces, so nothing has to derive it again."""

    text: str
    context: str
    position: int
    items: str = ""


def _clean(sentence: str) -> str:
    sentence = _LIST_MARK.sub("", sentence.strip())
    return sentence.strip(" *|\t").replace("**", "").strip()


def _split_section(hit: Hit) -> tuple[str, str]:
    """(the headings above the document's title, the headings below it) in the chunk's
    section path: a plan section's path starts with the headings it is part of
    ("✅ 核心目标检查清单 / 技术能力目标")."""
    section = hit.section or ""
    if section == hit.title:
        return "", ""
    if section.startswith(hit.title + " / "):
        return "", section[len(hit.title) + 3 :]
    marker = " / " + hit.title
    if section.endswith(marker):
        return section[: -len(marker)], ""
    at = section.find(marker + " / ")
    if at >= 0:
        return section[:at], section[at + len(marker) + 3 :]
    return "", section


def heading_of(hit: Hit) -> str:
    """The chunk's own heading: its section path without the document's title heading
    and the headings above it."""
    return _split_section(hit)[1]


def section_context(hit: Hit) -> str:
    """What every sentence of the chunk is about: the headings above the document's
    title, the title, and the chunk's own heading."""
    above, heading = _split_section(hit)
    own = f"{hit.title} {heading}".strip()
    return f"{above} / {own}" if above else own


def candidates_of(hit: Hit) -> list[Candidate]:
    """A chunk's sentences, each with its lead-in line (a heading, a bold line, a line
    ending in a colon or question mark, a table header) as context."""
    return list(_candidates(hit.title, hit.section or "", hit.text))


@lru_cache(maxsize=4096)
def _candidates(title: str, section: str, text: str) -> tuple[Candidate, ...]:
    hit = Hit(0, 0, title, section, text, "", "")
    heading = heading_of(hit)
    # A heading is quoted only when it states something ("实践项目：自定义CUDA Kernel").
    # (the lines under it stand under the section's context)
    states = re.search(r"[:：]\s*\S", heading)
    out = [Candidate(heading, hit.title, 0, section_context(hit))] if states else []
    lines = hit.text.splitlines()
    # The document's title is every sentence's context too: a plan section's title
    # ("学习社群") is often the only place its list items are introduced.
    heading = section_context(hit)
    context = heading
    seen = {heading}
    for i, line in enumerate(lines):
        if not line.strip():
            context = heading
            continue
        if line.lstrip().startswith(("```", "~~~")):
            continue  # a code block's fence ("```markdown") says nothing
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if _is_lead_in(line, following):
            # A lead-in introduces the answer; it is not one ("Q1: 没有GPU怎么办？"),
            # unless it states something itself ("**Day 1-2: 环境准备**").
            lead = _clean(line)
            table_header = line.strip().startswith("|")
            # A table's header row adds to the bold line above it ("**推荐阅读优先级**：").
            # (A bold label's note in brackets is no part of what its items are about: the
            # items of "必读论文清单（28篇核心论文）" are not "核心".)
            label = _BOLD_NOTE.sub("", lead) if _BOLD_LINE.match(line.strip()) else lead
            context = f"{context if table_header else heading} {label}"
            # ... or a count ("本方案包含5个核心文档：")
            states = re.search(r"[:：]\s*[^\s?？]|\d\s*[个篇份项门]", lead)
            if states and not lead.endswith(("?", "？")):
                if lead not in seen:
                    seen.add(lead)
                    out.append(Candidate(lead, heading, len(out), context))
            continue
        for raw in _SENTENCE.findall(line):
            sentence = _clean(raw)
            if len(sentence) >= 2 and sentence not in seen and re.search(r"\w", sentence):
                seen.add(sentence)
                out.append(Candidate(sentence, context, len(out)))
    return tuple(out)


def context_of(hit: Hit, sentence: str) -> str:
    """The lead-in (heading, bold line, table header) a sentence of the chunk stands under."""
    return next((c.context for c in candidates_of(hit) if c.text == sentence), "")


def sentences_of(hit: Hit) -> list[str]:
    return [c.text for c in candidates_of(hit)]


def _weight(terms: dict[str, float], text: str) -> float:
    words = _words(text)
    return sum(w for t, w in terms.items() if t in words)


def _term_weights(terms: set[str], texts: list[str]) -> dict[str, float]:
    """Each key term's weight: longer words weigh more, and words found in many of the
    candidate sentences (the entity every passage mentions) less than rare ones (the
    attribute asked about), like IDF over this question's candidates."""
    import math

    bags = [_words(t) for t in texts]
    n = len(bags) or 1
    return {
        t: min(len(t), 4) * math.log(1 + n / (1 + sum(1 for bag in bags if t in bag)))
        for t in sorted(terms)  # one order in every process: _concepts groups in this order
    }


_BARE_URL = re.compile(r"^<?https?://\S+>?$")
_ASKS_LINK = re.compile(
    r"链接|网址|网站|地址|官网|主页"
    r"|(?<![A-Za-z])(?:link|links|url|urls|website|site|homepage)(?![A-Za-z])",
    re.I,
)
_QUANTITY_EN = re.compile(r"how (?:many|much)|percent", re.IGNORECASE)


def asks_quantity(question: str) -> bool:
    """Whether the question asks for a number: 多少, 几个 / 几步, 比例, 占 (as a word: "显存
    占用" asks none, nor "几乎"), how many."""
    if _QUANTITY_EN.search(question):
        return True
    previous = ""
    for word in kbtext.words_of(question):
        if word in ("多少", "比例", "占", "占比") or word.startswith(("占多", "百分")):
            return True
        # 几个 / 几步 ask how many; 哪几篇 asks which ones
        if word.startswith("几") and word != "几乎" and not previous.endswith("哪"):
            return True
        previous = word
    return False


QUANTITY_BONUS = 1.3

# "一共安排了多少个实践项目", "最少要几个": a count is said as a number with the measure
# word asked ("4个实践项目", "至少3个"), not as any number ("实践项目：40%"); in the
# sentence or its lead-in ("4个实践项目" over its list).
MEASURE_WORDS = "个篇份项周天步章门"  # what a count is counted in: 4个, 20篇, 3周
_COUNT_ASKED = re.compile(rf"(?:(?<!哪)几|多少)\s*([{MEASURE_WORDS}])")  # 哪几个 asks which
COUNT_BONUS = 1.3


def counted_units(question: str) -> str:
    """The measure words a question counts by ("多少个" -> "个"), as one string."""
    return "".join(sorted(set(_COUNT_ASKED.findall(question))))


def asks_for_a_name(question: str) -> bool:
    """Whether the answer is a name the question does not say: a tool asked for by its
    kind ("哪个框架"), or another than the names it excludes ("除了 vLLM 还有哪个")."""
    return bool(tool_asked(question)) or excludes_a_name(question)


# "RAG 是用什么框架搭的", "which web framework": a tool is asked for by its name, so a
# sentence that names one the question does not ("LangChain RAG") is the likelier answer
# than one that only repeats the question's ("RAG知识库检索").
TOOL_BONUS = 1.3
TOOL_ITEM_CHARS = 24  # a list item or label line ("LangChain RAG", "硬件监控：pynvml"), no row


@lru_cache(maxsize=65536)
def _sentence_terms(sentence: str) -> tuple[str, ...]:
    return tuple(kbtext.query_terms(sentence))


def _novel(terms: set[str], sentence: str) -> bool:
    """Whether the sentence says something beyond the question's own words."""
    words = set(_sentence_terms(sentence)) | set(re.findall(r"\d+", sentence))
    return any(
        w not in terms and (any(ch.isdigit() for ch in w) or len(w) >= (3 if w.isascii() else 2))
        for w in words
    )


CONFIRMING_TERMS = 2


def _confirms(terms: set[str], sentence: str) -> bool:
    """Whether a sentence that says nothing beyond the question's words still answers a
    yes-or-no question: it says CONFIRMING_TERMS of them ("本地LLM推理" for "会不会在本地跑
    LLM推理"), so the plan says so in those words."""
    words = set(_sentence_terms(sentence))
    return sum(1 for t in terms if t in words and len(t) > 1) >= CONFIRMING_TERMS


def _said_beyond(terms: set[str], sentence: str) -> int:
    """How many words the sentence says that the question does not (a date's digits are
    no words: "最后更新：2026-01-07" says one more than the question, not four)."""
    return sum(1 for w in _sentence_terms(sentence) if w not in terms and not w.isdigit())


def _concepts(
    weights: dict[str, float], known: Collection[str] | None = None
) -> list[tuple[frozenset[str], float]]:
    """Key terms grouped by meaning: an English word and its Chinese counterpart
    (quantized / 量化) are one concept, weighing as much as its heavier word."""
    groups: list[tuple[frozenset[str], float]] = []
    done: set[str] = set()
    for term in weights:
        if term in done:
            continue
        members = {term} | (set(kbtext.glosses(term, known)) & weights.keys())
        members |= {t for t in weights if term in kbtext.glosses(t, known)}
        done |= members
        groups.append((frozenset(members), max(weights[m] for m in members)))
    return groups


_NUMBER = re.compile(rf"(?<![\d.])\d+(?:\.\d+)?(?:\s*[-–~～]\s*\d+(?:\.\d+)?)?%?{NUMBER_ENDS}")


def numbers_of(text: str) -> set[str]:
    """The numbers and number ranges a text states, as "#5-8", "#46%", "#16"."""
    return {"#" + re.sub(r"\s*[-–~～]\s*", "-", m) for m in _NUMBER.findall(text)}


@lru_cache(maxsize=65536)
def _words(text: str) -> frozenset[str]:
    """A sentence's search words and numbers; cached, as the same chunks answer many
    questions and segmenting them dominated the answer time."""
    return frozenset(kbtext.passage_words(text).split()) | numbers_of(text)


def names_of(question: str) -> set[str]:
    """Names the question asks about: Latin words with a capital (GPTQ, AWQ, Agent, RL)."""
    return {
        w.lower()
        for w in re.findall(r"[A-Za-z][A-Za-z0-9\-]+", question)
        if any(c.isupper() for c in w) and w.lower() not in kbtext._STOPWORDS
    }


def says_more_than_the_names(question: str, chosen: list[tuple[Hit, str]]) -> bool:
    """Whether the quotes say something the question asks beyond the names it mentions.

    "NVIDIA 今天的股价是多少" against "面试阶段可先用NVIDIA GPU模拟": the quote shares the
    name and nothing else the question asks (股价, 今天), so it answers another question.
    A question of a name alone ("vLLM 是什么？") asks nothing more.
    """
    names = names_of(question)
    if not names:
        return True
    asked = [c for c in kbtext.concepts(question) if not c & names and any(len(t) > 1 for t in c)]
    if not asked:
        return True
    if asks_for_a_name(question) and any(names_another(text, question) for _h, text in chosen):
        # "Demo 2 的RAG用哪个框架" asks for a name: "LangChain RAG" is one it does not say
        return True
    said: set[str] = set()
    for hit, text in chosen:
        said |= _words(text) | _words(section_context(hit))
    return any(_said(c, said) for c in asked)


def _said(concept: frozenset[str], said: set[str]) -> bool:
    """Whether a concept is among the words said, an English word in either number
    ("notebook" / "Notebooks")."""
    for term in concept:
        if term in said:
            return True
        if term.isascii() and {term + "s", term + "es", term.removesuffix("s")} & said:
            return True
    return False


def _concept_score(
    concepts: list[tuple[frozenset[str], float]],
    text: str,
    context: str,
    context_weight: float,
) -> float:
    """Each concept counts once: fully when the sentence says it, `context_weight` when
    only its lead-in line or heading does."""
    own = _words(text)
    around = _words(context)
    return sum(
        weight if members & own else context_weight * weight if members & around else 0.0
        for members, weight in concepts
    )


# A plan section that is one short list under its heading ("学习社群": Reddit, Discord, 微信群,
# 知乎): the heading is what every item is about, so it counts as fully as the item's own
# words, and the answer quotes the items (up to LIST_QUOTES) rather than one of them.
SHORT_LIST = 8


def _short_list(hit: Hit, cands: list[Candidate]) -> bool:
    heading = section_context(hit)
    return 2 <= len(cands) <= SHORT_LIST and all(c.context == heading for c in cands)


def _heading_answers(
    hit: Hit, cands: list[Candidate], top: Candidate, concepts: list[tuple[frozenset[str], float]]
) -> bool:
    """Whether a short section's heading, not its best sentence, is what the question asks
    about: the sentence says none of the question's concepts itself, its heading does.
    Then every item under it answers ("有哪些学习社群？"); a sentence that names what was
    asked ("第5-8周：硬件优化" for "第5-8周学什么") answers alone."""
    if not _short_list(hit, cands):
        return False
    heading, own = _words(top.context), _words(top.text)
    return any(members & heading for members, _w in concepts) and not any(
        members & own for members, _w in concepts
    )


FOCUS_BONUS = 1.5
# A sentence outside the chunks of the week, phase or paper a question names competes with
# theirs when it names the same thing and scores this many times their best.
OWN_MARGIN = 1.15
OWN_CONCEPTS = 2  # ... and says this many of the question's other concepts
NAME_WEIGHT = 2.0
# The study plan's own sections state the facts the curriculum's long week documents
# only mention in passing: their sentences count this many times.
PLAN_BONUS = 2.0
# A chunk that names the entity the question asks about ("Demo 2", "MIT 6.0001").
ENTITY_BONUS = 1.5
CONTEXT_WEIGHT = 0.8
# A quote must score at least this share of the best one.
KEEP_RATIO = 0.75
# A quote from another chunk than the best quote's must score this share of the best one:
# each citation should point at a chunk that holds what the answer says.
OTHER_CHUNK_RATIO = 1.01

# "里程碑：优化能力获得" answers "里程碑是什么" directly: the question's term is the label of
# a label：value line. Such a line counts this many times.
# A label the question names only in part ("项目" of "实践项目") counts less: the question
# may be about another 项目 ("哪个项目可以不做").
LABEL_BONUS = 1.3
PARTIAL_LABEL_BONUS = 1.15
_LABEL = re.compile(r"^([^:：，,。]{1,12})[:：]\s*\S")


def _lead_in(context: str, heading: str) -> str:
    """The lead-in line of a sentence's context under its section's heading ("部署：" of
    "Demo 2: 飞书AI智能助手 部署："); "" for a sentence under the heading alone."""
    return context[len(heading) :] if context.startswith(heading) else ""


def _names_group(lead: str, weights: dict[str, float]) -> bool:
    """Whether the question names, in full, the lead-in line a list item stands under
    (`lead`, _lead_in: "芯片与优化" of "芯片与优化这块的能力目标有哪些"): the question asks for
    that group's items, so the lead-in counts as fully as the item's own words."""
    words = set(_sentence_terms(lead))
    return bool(words) and words <= weights.keys()


_DATE_VALUE = re.compile(r"^[^:：]+[:：]\s*(?:19|20)\d\d[-/.年]\d{1,2}(?:[-/.月]\d{1,2}日?)?\s*$")


def label_bonus(text: str, weights: dict[str, float], *, when: bool = False) -> float:
    """How much a label：value line counts: the question names its label. A date's label
    ("最后更新：2026-01-07") answers only a question that asks when: "方案以后怎么更新" asks
    how (更新计划：每月更新论文清单)."""
    match = _LABEL.match(text)
    if not match or (not when and _DATE_VALUE.match(text)):
        return 1.0
    if re.search(r"\d", match.group(1)):
        return 1.0  # "第1-4周：..." is a row of a list, not a named field
    label = set(_sentence_terms(match.group(1)))
    named = len(label & weights.keys())
    if label and named == len(label):
        return LABEL_BONUS
    return PARTIAL_LABEL_BONUS if label and 2 * named >= len(label) else 1.0


_ENTITY = re.compile(rf"(?<![A-Za-z0-9])([A-Za-z][A-Za-z\-]*)\s*(\d+(?:\.\d+)*){NUMBER_ENDS}")


def entities_of(question: str) -> list[tuple[str, str]]:
    """(name, number) pairs the question names: "Demo 2" → ("demo", "2")."""
    return [(name.lower(), number) for name, number in _ENTITY.findall(question)]


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text.lower())


def _numbered(text: str, name: str) -> list[tuple[str, str]]:
    """The numbers or spans a (squashed) text gives a name: "day1-2" → [("1", "2")]."""
    return re.findall(rf"{re.escape(name)}(\d+(?:\.\d+)*)(?:[-–~](\d+){NUMBER_ENDS})?", text)


def _covers(numbered: tuple[str, str], number: str) -> bool:
    """Whether "Day 1-2" (("1", "2")) or "Day 2" (("2", "")) is the number asked: Day 2 is
    in Day 1-2."""
    low, high = numbered
    if not high:
        return low == number
    return low.isdigit() and number.isdigit() and int(low) <= int(number) <= int(high)


def _names_entity(text: str, entity: tuple[str, str]) -> bool:
    return any(_covers(numbered, entity[1]) for numbered in _numbered(text, entity[0]))


def _names_other(text: str, entity: tuple[str, str], entities: list[tuple[str, str]]) -> bool:
    """Whether the text names a sibling of the entity (Demo 1 when Demo 2 was asked) and
    none the question names: "Demo 2 or Demo 3?" is answered by Demo 2's line, and "Day 2"
    by the line for Day 1-2."""
    others = _numbered(text, entity[0])
    asked = {number for name, number in entities if name == entity[0]}
    return bool(others) and not any(_covers(o, n) for o in others for n in asked)


def _about_entity(hit: Hit, entities: list[tuple[str, str]]) -> bool:
    """A chunk is about "Demo 1" when its title or section names it; otherwise only its
    sentences that name it are (choose_quotes)."""
    about = _squash(f"{hit.title}\n{hit.section}")
    return any(_names_entity(about, e) for e in entities)


# A question that names a phase but no week ("大模型阶段的里程碑") is about the phase as a
# whole: the phase's own document counts this many times more than its weeks' documents
# ("第12周 ……（阶段里程碑）").
PHASE_DOC_BONUS = 1.5


# "飞书机器人哪周做？", "when is the quantization project due?": the curriculum's week
# documents say which week; their titles name it ("第14周 Demo 2：飞书AI知识库问答机器人").
_ASKS_WEEK = re.compile(
    # one week: "哪几周" / "which weeks" ask for a span, which the plan's phases state
    r"哪周|哪一周|第几周|什么时候|何时|\b(?:which|what) week\b|\bwhen\b",
    re.IGNORECASE,
)


# "vllm那篇paper": no \b between "paper" and a Chinese character (both word characters)
_ASKS_PAPER = re.compile(r"论文|(?<![A-Za-z])papers?(?![A-Za-z])", re.IGNORECASE)


def asks_about_the_paper(question: str, focus: Focus | None) -> bool:
    """ "vLLM 那篇论文讲的是什么": the question is about the core paper it names, not the
    project of the same name."""
    return bool(focus and focus.paper_id and _ASKS_PAPER.search(question))


# "第几周到第几周", "哪几周", "which weeks": a span of weeks is asked, as the plan's phases and
# tables state it ("9-12 | LLM竞赛"), not the one week a week's document is about.
_ASKS_SPAN = re.compile(
    r"第?几周?\s*到\s*第?几周|哪几周|哪些周|\b(?:which|what) weeks\b",
    re.IGNORECASE,
)
SPAN_BONUS = 1.3


def asks_which_week(question: str) -> bool:
    return bool(_ASKS_WEEK.search(question)) and not asks_which_weeks(question)


def asks_which_weeks(question: str) -> bool:
    return bool(_ASKS_SPAN.search(question))


def chunk_factor(
    hit: Hit,
    entities: list[tuple[str, str]],
    *,
    plan: bool,
    focus: Focus | None = None,
    asks_week: bool = False,
    question: str = "",
) -> float:
    """How much a chunk's sentences count: the plan's own sections (PLAN_BONUS), and as
    much a week's document when the question asks which week."""
    factor = PLAN_BONUS if hit.source == "plan" or (asks_week and hit.kind == "week") else 1.0
    if _about_entity(hit, entities):
        factor *= ENTITY_BONUS
    if focus and focus.phase and not focus.week and hit.kind == "phase":
        factor *= PHASE_DOC_BONUS
    if focus and focus.week and hit.kind == "phase":
        factor *= PHASE_ROW_FACTOR
    if question and names_the_section(hit, question):
        factor *= SECTION_BONUS
    return factor


SECTION_BONUS = 1.3
SECTION_NAME_CHARS = 4  # "技术能力目标", "常见问题解答"; not "内容"


def names_the_section(hit: Hit, question: str) -> bool:
    """Whether the question names the plan section the chunk is by its heading ("技术能力目标
    中，模型导出要求掌握哪两种格式？" names 核心目标检查清单 / 技术能力目标)."""
    if hit.source != "plan":
        return False  # the curriculum's pages share their headings (学习资源, Kaggle活动)
    said = _squash(question)
    heading = heading_of(hit).rsplit(" / ", 1)[-1] or hit.title
    name = _squash(_label(heading))
    name = re.sub(r"^[\d\W_]+", "", name)  # "5️⃣ [Demo开发与实验指南](…)" → its words
    return len(name) >= SECTION_NAME_CHARS and name in said


def _week_of(hit: Hit) -> int | None:
    """The week a chunk's title or section names (第10周 …, 第1周行动清单), if any."""
    return week_number(f"{hit.title} {hit.section}")


# The plan's 16-week table row in a phase's document (sources.curriculum_items), and the
# word of the question that asks for each of its cells.
_PHASE_ROW = re.compile(r"(学习重点|实践项目|里程碑|产出|Kaggle活动)：")
# An English question names them in English ("what should I focus on in week 2").
_ROW_ASKED = {
    "学习重点": ("重点", "focus"),
    "实践项目": ("项目", "project"),
    "里程碑": ("里程碑", "milestone"),
    "产出": ("产出",),
    "Kaggle活动": ("kaggle",),
}


# "按16周详细规划表，第3周对应的实践项目是什么": the question names the plan's table, so its
# row for the week's phase answers, not the week's own document (which it would otherwise).
_NAMES_THE_TABLE = re.compile(
    r"规划表|计划表|(?:16|十六)周.{0,6}表|\b(?:plan|schedule) table\b", re.I
)
TABLE_BONUS = 2.0


def _asks_for_row(question: str, hit: Hit, text: str) -> bool:
    """Whether a line of a week's phase document answers a question about the week: the
    table cell the question names in its own words ("第10周的学习重点", "第2周在Kaggle上"), or
    the phase's title when it asks for the phase. "第五周学什么" asks for the week's overview."""
    lowered = question.lower()
    if text == hit.title:
        return "阶段" in question or "phase" in lowered or "stage" in lowered
    row = _PHASE_ROW.match(text)
    return bool(row) and any(word in lowered for word in _ROW_ASKED[row.group(1)])


def choose_quotes(
    question: str,
    hits: list[Hit],
    *,
    focus: Focus | None = None,
    focused: set[int] | None = None,
    known: Collection[str] | None = None,
) -> list[tuple[Hit, str]]:
    """The sentences that answer `question`: most shared key terms (their own, plus their
    lead-in line's) first, ties by hit rank and position; chunks the question's focus
    selected (`focused` chunk ids) count FOCUS_BONUS times.

    A sentence that shares no key term, or only repeats the question, is never chosen:
    such an answer would be a guess, and the caller abstains instead. `known`: the
    knowledge base's words, for an English question's dictionary glosses.
    """
    terms = key_terms(question, focus, known)
    focused = focused or set()
    entities = entities_of(question)
    # The name of an entity the question names ("Demo" of "Demo 2") is matched as the
    # whole entity (chunk_factor), not as a word: every Demo's sentences say "Demo".
    terms -= {name for name, _number in entities}
    plan = not (focus and focus.week)
    per_hit = [(rank, hit, candidates_of(hit)) for rank, hit in enumerate(hits)]
    # The numbers the question asks about ("第5-8周", "Day 1-2") are key terms too,
    # except those naming what retrieval already keeps to (the week, "Demo 2").
    plain = strip_focus(question) if focus and (focus.week or focus.phase) else question
    terms |= numbers_of(kbtext.without_the_plan(plain)) - {f"#{n}" for _name, n in entities}
    weights = _term_weights(terms, [c.text for _r, _h, cands in per_hit for c in cands])
    # Names weigh more than words: "GPTQ" is what "GPTQ 属于什么领域" is about.
    names = names_of(question)
    weights = {t: w * NAME_WEIGHT if t in names else w for t, w in weights.items()}
    concepts = _concepts(weights, known)
    wants_number = asks_quantity(question)
    often = bool(_ASKS_FREQUENCY.search(question))
    quotes = quoted_words(question)
    units = counted_units(question)
    count = re.compile(rf"\d\s*[{units}个]") if units else None  # 个 counts anything
    # "除了 vLLM 还有哪个": the answer names another thing, as a tool asked for does.
    tool = tool_asked(question)
    wants_tool = asks_for_a_name(question)
    asks_week = asks_which_week(question) and not (focus and focus.week)
    asks_link = bool(_ASKS_LINK.search(question))
    when = asks_when(question)
    spans = {n for n in numbers_of(question) if "-" in n}  # "第5-8周" → "#5-8"
    yes_no = asks_yes_or_no(question)
    asks_span = asks_which_weeks(question) and not spans
    scored: list[tuple[float, int, int, Hit, str]] = []
    for rank, hit, cands in per_hit:
        if focus and focus.week and _week_of(hit) not in (None, focus.week):
            # "What did you build in week 10?": week 1's "Build Model" is no answer, whatever
            # it shares; without a sentence of its own, the week gets its overview (_framed).
            continue
        bonus = FOCUS_BONUS if hit.chunk_id in focused else 1.0
        bonus *= chunk_factor(
            hit, entities, plan=plan, focus=focus, asks_week=asks_week, question=question
        )
        named = _about_entity(hit, entities)
        context_weight = 1.0 if _short_list(hit, cands) else CONTEXT_WEIGHT
        heading = section_context(hit)
        row_only = bool(focus and focus.week) and hit.kind == "phase"
        table_row = row_only and bool(_NAMES_THE_TABLE.search(question))
        for cand in cands:
            if row_only and not _asks_for_row(question, hit, cand.text):
                continue  # of a week's phase, only its row of the plan's table answers
            own = _weight(weights, cand.text)
            if not (own or cand.context):
                continue
            lead = _lead_in(cand.context, heading)  # not the section's heading
            quoted_line = bool(quotes) and any(q in _squash(f"{lead} {cand.text}") for q in quotes)
            # (a line the question quotes repeats it, but its lead-in says where it stands:
            # "“CLUE中文基准”被列在哪一类资源下面？")
            anchored = quoted_line and bool(lead.strip())
            novel = _novel(terms, cand.text) or anchored
            if not novel and not (yes_no and _confirms(terms, cand.text)):
                continue
            if not asks_link and _BARE_URL.match(cand.text):
                continue  # a link alone says nothing, unless a link was asked for
            said = _squash(f"{cand.context} {cand.text}")
            if any(_names_other(said, e, entities) for e in entities):
                continue  # about Demo 1 when Demo 2 was asked
            # An item of a group the question names in full ("芯片与优化这块的目标"): its
            # lead-in counts fully, as a label the question names does (label_bonus).
            group = _names_group(lead, weights)
            weight_here = 1.0 if group else context_weight
            # A sentence naming a tool the question does not ("LangChain RAG") names the
            # kind of tool asked ("哪个库"): it says that concept.
            names_tool = wants_tool and names_another(cand.text, question) and "|" not in cand.text
            instance = names_tool and len(cand.text) <= TOOL_ITEM_CHARS
            text = f"{cand.text} {tool}" if tool and instance else cand.text
            score = _concept_score(concepts, text, cand.context, weight_here) * bonus
            if group:
                score *= LABEL_BONUS
            if table_row and _PHASE_ROW.match(cand.text):
                score *= TABLE_BONUS
            if not named and any(_names_entity(said, e) for e in entities):
                score *= ENTITY_BONUS  # this row of a table names "Demo 1"; the chunk does not
            elif spans and spans & _words(cand.text):
                score *= ENTITY_BONUS  # the line for the span of weeks asked ("第5-8周：…")
            if asks_span and any("-" in n for n in numbers_of(said)):
                score *= SPAN_BONUS  # a span asked: "9-12 | LLM竞赛 | 大模型部署 | Demo视频"
            if count:  # a count asked: only a count answers it, not a percentage
                if count.search(f"{cand.context} {cand.text}"):
                    score *= QUANTITY_BONUS * COUNT_BONUS
            elif wants_number and re.search(r"\d", cand.text):
                score *= QUANTITY_BONUS
            elif often and _FREQUENCY.search(cand.text):
                score *= QUANTITY_BONUS  # "多久维护一次": "每月更新论文清单"
            if names_tool:
                score *= TOOL_BONUS
            score *= label_bonus(cand.text, weights, when=when)
            if quoted_line:
                score *= QUOTED_BONUS  # the line, or the list it is an item of
            if score > 0:
                scored.append((score, rank, cand.position, hit, cand.text))
    own_first = focus and (focus.week or focus.phase or asks_about_the_paper(question, focus))
    if own_first and focused:
        # The question names a week, a phase, or a paper it asks about: its own chunks
        # answer it when they can.
        own_rows = [row for row in scored if row[3].chunk_id in focused]
        # ... unless a sentence elsewhere that names it too answers much better: the plan's
        # table row "vLLM (PagedAttention) | ⭐⭐⭐⭐⭐ | 推理系统" for "PagedAttention 那篇论文
        # 在阅读优先级表里属于哪个领域", which the paper's own document does not say.
        best_own = max((row[0] for row in own_rows), default=0.0)

        # ... or the plan's line for the span of weeks it names ("学习时间线里第5-8周的主题"
        # → "第5-8周：硬件优化：GPU/芯片架构" under "16周学习时间线：")
        def says_more(row: tuple[float, int, int, Hit, str]) -> bool:
            words = _words(f"{context_of(row[3], row[4])} {row[4]}")
            if not (names & words or spans & _words(row[4])):
                return False
            asked = [c for c, _w in concepts if not c & names]
            return sum(1 for c in asked if c & words) >= OWN_CONCEPTS

        better = [
            row for row in scored
            if row[3].chunk_id not in focused and row[0] >= best_own * OWN_MARGIN and says_more(row)
        ]  # fmt: skip
        if own_rows or (focus.week and checks_a_belief(question)):
            # (a belief about a week is answered by that week: "第14周是做 Sandbox 的吗？")
            scored = own_rows + better
    # Of equals, a table's row last: its cells say many things, each about another row
    # heading ("应用 | 13-16 | 飞书开发/Agent设计 | 飞书机器人+Sandbox" ties with "项目：飞书知识库
    # 问答机器人" for "飞书bot向量库用哪个", whose chunk has the answer). Then the sentence that
    # says more beyond the question ("Python高级特性（装饰器、异步、性能优化）" before
    # "复习Python高级特性"), then retrieval's order.
    scored.sort(
        key=lambda row: (
            -round(row[0], 6),
            "|" in row[4],
            -_said_beyond(terms, row[4]),
            row[1],
            row[2],
        )
    )
    scored = _own_line_first(scored)
    chosen: list[tuple[Hit, str]] = []
    per_chunk: dict[int, int] = {}
    seen: set[str] = set()
    best = scored[0][0] if scored else 0
    for score, _rank, _pos, hit, sentence in scored:
        if len(chosen) == QUOTES:
            break
        if score < best * KEEP_RATIO or sentence in seen:
            continue
        if chosen and hit.chunk_id != chosen[0][0].chunk_id and score < best * OTHER_CHUNK_RATIO:
            continue
        if per_chunk.get(hit.chunk_id, 0) >= QUOTES_PER_CHUNK:
            continue
        chosen.append((hit, sentence))
        seen.add(sentence)
        per_chunk[hit.chunk_id] = per_chunk.get(hit.chunk_id, 0) + 1
    listed = _with_siblings(chosen, concepts, position=asks_position(question))
    chosen = _complemented(listed, concepts, terms, question)
    return _instead_of_excluded(chosen, question)


def _own_line_first(
    scored: list[tuple[float, int, int, Hit, str]],
) -> list[tuple[float, int, int, Hit, str]]:
    """Of the best chunk's sentences that tie for first, a line of its own before an item of
    one of its lists: "项目：ChatGLM-6B量化部署" says what Demo 1 is ("Demo 1 用什么模型"),
    "vLLM推理加速" is one of its techniques."""
    if not scored:
        return scored
    first = scored[0]
    ties = [
        row for row in scored
        if row[3].chunk_id == first[3].chunk_id and round(row[0], 6) == round(first[0], 6)
    ]  # fmt: skip
    heading = section_context(first[3])
    own = next((row for row in ties if context_of(row[3], row[4]) == heading), None)
    if own is None or own is first or context_of(first[3], first[4]) == heading:
        return scored
    return [own, *(row for row in scored if row is not own)]


SET_ASIDE_REST = 2  # "安装PyTorch 2.0+" without PyTorch 2.0+: a verb, no other name


def _instead_of_excluded(chosen: list[tuple[Hit, str]], question: str) -> list[tuple[Hit, str]]:
    """ "技术博客推荐里，除了Hugging Face Blog、NVIDIA Developer Blog和机器之心，还有哪个？": the
    items the question sets aside match it best, but the answer is the rest of their list.
    When a quote is an item of a short list whose name (its label, or the whole short
    item) says nothing but a name set aside, the list's label and its other items are the
    answer; otherwise the quotes stay ("模型导出（ONNX/TorchScript）" names more than ONNX)."""
    names = [_squash(name) for name in excluded_names(question)]
    if not names:
        return chosen

    def set_aside(text: str) -> bool:
        label = _squash(re.split(r"[:：]", text, maxsplit=1)[0])
        if not any(name in label for name in names):
            return False
        for name in names:
            label = label.replace(name, "")
        return len(re.sub(r"[\W\d_]+", "", label)) <= SET_ASIDE_REST

    for hit, text in chosen:
        if not set_aside(text):
            continue
        cands = candidates_of(hit)
        top = next((c for c in cands if c.text == text), None)
        if top is None:
            continue
        siblings = [c.text for c in cands if c.context == top.context]
        others = [t for t in siblings if not set_aside(t)]
        if others and len(siblings) <= LIST_QUOTES:
            label = _list_label(cands, top.context)
            return [*([(hit, label)] if label else []), *((hit, t) for t in others)]
    return chosen


def _complemented(
    chosen: list[tuple[Hit, str]],
    concepts: list[tuple[frozenset[str], float]],
    terms: set[str],
    question: str = "",
) -> list[tuple[Hit, str]]:
    """The best chunk's sentence that says what the quotes leave out.

    A question names its subject and asks about one thing of it ("飞书问答机器人的向量检索
    用的是什么库"): the sentence that names the subject best ("项目：飞书知识库问答机器人")
    often wins, and the one that answers ("FAISS向量数据库") says the rest. Of the best
    chunk's other sentences, the one that says most of the concepts no quote says yet is
    added (none when every concept is said, or none of the rest says any)."""
    if not chosen:
        return chosen
    hit = chosen[0][0]
    quoted = {t for _h, t in chosen}
    said = set().union(*(_words(t) for t in quoted))
    # A kind of tool asked ("拿哪个环境来训") that the quotes say but name none of ("项目：
    # 硬件感知的RL环境（MVP）"): a sentence naming one ("CartPole环境训练") says the rest.
    tool = tool_asked(question) if question else ""

    def instance(text: str) -> bool:
        return len(text) <= TOOL_ITEM_CHARS and names_another(text, question)

    unnamed = bool(tool) and not any(instance(t) for t in quoted)
    if unnamed:
        said -= {tool}
    missing = [(members, weight) for members, weight in concepts if not members & said]
    best, best_gain = None, 0.0
    cands = candidates_of(hit)
    for cand in cands:  # the first of equals: the chunk's own order
        if cand.text in quoted or not _novel(terms, cand.text) or _BARE_URL.match(cand.text):
            continue
        own = _words(cand.text) | ({tool} if unnamed and instance(cand.text) else set())
        gain = sum(weight for members, weight in missing if members & own)
        if gain > best_gain:
            best, best_gain = cand, gain
    heading = section_context(hit)

    def says_missing(cand: Candidate) -> bool:
        lead = _lead_in(cand.context, heading)
        return bool(lead.strip()) and any(members & _words(lead) for members, _w in missing)

    if best is not None and not says_missing(best):
        return [*chosen, (hit, best.text)]
    # ... or else the list whose lead-in says it ("成果：" for "做完后要拿出哪些成果"; "部署："
    # for "飞书 bot 部署方式", whose item "云服务器部署" says it too): the items under it
    # say what the lead-in names, all of them.
    for cand in [best] if best is not None else cands:
        if says_missing(cand):
            items = [c.text for c in cands if c.context == cand.context]
            label = _list_label(cands, cand.context)
            listed = {label, *items[:LIST_QUOTES]}
            rest = [(h, t) for h, t in chosen if t not in listed]
            return [*rest, (hit, label), *((hit, t) for t in items[:LIST_QUOTES])]
    return chosen


_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")


def _label(heading: str) -> str:
    """A heading or lead-in as a quoted label: without emoji or link markup."""
    return re.sub(r"\s+", " ", EMOJI.sub("", _MD_LINK.sub(r"\1", heading))).strip()


def _list_label(cands: list[Candidate], context: str) -> str:
    """The label quoted over a list's items: its lead-in line whole, with the note in
    brackets its items' context leaves out ("GitHub仓库（至少3个）")."""
    lead = next((c for c in cands if c.items == context and _BOLD_NOTE.search(c.text)), None)
    return _label(f"{lead.context} {lead.text}" if lead else context)


# "常见问题解答中的第一个问题", "which blog is listed right after NVIDIA's": a place in a list
# is asked, and only the whole list shows it.
_ASKS_POSITION = re.compile(
    r"第\s*[一二三四五六七八九十\d]+\s*(?:个|条|项|步|篇|位|点)|最后一|排在|紧接|下一[个条项步]"
    r"|\b(?:first|second|third|fourth|fifth|sixth|last|next)\b"
    r"|\b(?:right|just|listed|comes?|coming)\s+(?:after|before)\b|\bfollows\b|\bprecedes\b",
    re.IGNORECASE,
)


def asks_position(question: str) -> bool:
    """Whether the question asks for a place in a list (first, 第三条, right after X)."""
    return bool(_ASKS_POSITION.search(question))


# The plan's own words quoted in a question ("“面试阶段可先用NVIDIA GPU模拟”是回答哪个常见问题
# 的？"): the line that says them is what the question is about.
_QUOTED = re.compile(r"[“「『\"]([^”」』\"]{3,60})[”」』\"]")
QUOTED_BONUS = 2.0


def quoted_phrases(question: str) -> list[str]:
    """The phrases a question quotes: ["面试阶段可先用NVIDIA GPU模拟"]."""
    return [match.group(1) for match in _QUOTED.finditer(question)]


def quoted_words(question: str) -> list[str]:
    """The phrases a question quotes, squashed: ["面试阶段可先用nvidiagpu模拟"]."""
    return [_squash(phrase) for phrase in quoted_phrases(question)]


def _with_siblings(
    chosen: list[tuple[Hit, str]],
    concepts: list[tuple[frozenset[str], float]],
    *,
    position: bool = False,
) -> list[tuple[Hit, str]]:
    """The best quote's whole list: when it is an item under a lead-in line ("**部署**："),
    its sibling items are the rest of the answer ("Docker容器化", "内网穿透测试", ...); so
    are the items of a short section's list when a place in it is asked (`position`)."""
    if not chosen:
        return chosen
    hit, sentence = chosen[0]
    cands = candidates_of(hit)
    top = next((c for c in cands if c.text == sentence), None)
    if top is None:
        return chosen
    # The best quote is itself a list's lead-in ("Day 5-7: 第一个项目"): its items answer.
    items = [(hit, c.text) for c in cands if top.items and c.context == top.items]
    if 2 <= len(items) <= LIST_QUOTES:
        texts = {t for _h, t in items}
        rest = [(h, t) for h, t in chosen[1:] if t not in texts]
        return [(hit, sentence), *items, *rest[: max(0, QUOTES - len(items) - 1)]]
    under_heading = top.context == section_context(hit)
    if under_heading and not (position or _heading_answers(hit, cands, top, concepts)):
        return chosen
    siblings = [c for c in cands if c.context == top.context]
    if len(siblings) < 2:
        return chosen
    picked = [(hit, c.text) for c in siblings[:LIST_QUOTES]]
    if (hit, sentence) not in picked:
        picked = [(hit, sentence), *picked[: LIST_QUOTES - 1]]
    # The list's own heading and lead-in come first ("Demo 2: 飞书AI智能助手 技术实现："):
    # list items alone do not say what they are items of.
    label = _list_label(cands, top.context)
    if label and label not in {t for _h, t in picked}:
        picked = [(hit, label), *picked]
    texts = {t for _h, t in picked}
    return (
        picked + [(h, t) for h, t in chosen[1:] if t not in texts][: max(0, QUOTES - len(picked))]
    )


# "每周复盘模板包括哪些部分？": a question about the parts of a section is answered by the
# headings inside it (a template in a code block: 本周完成 / 遇到的问题 / 下周计划).
_ASKS_PARTS = re.compile(
    r"哪(?:几|些)个?(?:部分|块|板块|方面|环节|栏目?)|(?:包[含括]|分为|分成|由)哪些|(?:几|多少)个?部分"
    r"|组成|\b(?:parts|sections)\b",
    re.IGNORECASE,
)
_MD_HEADING_LINE = re.compile(r"^\s*(#{1,6})\s+(.+?)\s*$")
PARTS_HITS = 3


def part_headings(hit: Hit) -> list[str]:
    """The headings inside a chunk's text, of the highest level that has two or more."""
    heads = [
        (len(m.group(1)), _clean(m.group(2)))
        for line in hit.text.splitlines()
        if (m := _MD_HEADING_LINE.match(line))
    ]
    for level in sorted({lvl for lvl, _t in heads}):
        parts = [t for lvl, t in heads if lvl == level]
        if len(parts) >= 2:
            return parts
    return []


def _with_parts(hit: Hit, parts: list[str]) -> list[tuple[Hit, str]]:
    """A section's label, then its inner headings."""
    return [(hit, _label(section_context(hit))), *((hit, p) for p in parts)]


def parts_quotes(
    question: str, hits: list[Hit], known: Collection[str] | None = None
) -> list[tuple[Hit, str]]:
    """For a question that asks what parts a section has and names that section (every
    word of its heading, or all but one of three or more), the section's label and its
    inner headings."""
    if not _ASKS_PARTS.search(question):
        return _another_part(question, hits)
    terms = key_terms(question, None, known)
    for hit in hits:
        parts = part_headings(hit)
        heading = _label(heading_of(hit).rsplit(" / ", 1)[-1] or hit.title)
        words = {w for w in _sentence_terms(heading) if len(w) > 1}
        # every word, or all but one of three or more ("每周复盘要写哪几块" names 每周复盘模板)
        unnamed = len(words - terms)
        if parts and words and (unnamed == 0 or (len(words) >= 3 and unnamed == 1)):
            return _with_parts(hit, parts)
    return []


# "除了本周完成和下周计划，还有哪个部分", "写完遇到的问题之后接着写哪一部分": one part of a
# section asked for by the others it names.
_ASKS_A_PART = re.compile(
    r"[哪那]\s*(?:一|个)?\s*(?:个)?(?:部分|块|节|栏|板块|环节)|\b(?:which|what) (?:part|section)\b",
    re.IGNORECASE,
)


def _another_part(question: str, hits: list[Hit]) -> list[tuple[Hit, str]]:
    """For a question that names a part of a section and asks for another part, the
    section's label and all its inner headings (the part asked for among them)."""
    if not _ASKS_A_PART.search(question):
        return []
    said = _squash(question)
    for hit in hits:
        parts = part_headings(hit)
        if any(_squash(p) in said for p in parts if len(p) > 1):
            return _with_parts(hit, parts)
    return []


def overview_quotes(focused_hits: list[Hit], *, week: bool = False) -> list[tuple[Hit, str]]:
    """A question that names a week or phase but asks nothing more specific ("第五周学什么？")
    is answered by that item's own overview: its document's title and first sentences,
    from the curriculum itself."""
    own = [h for h in focused_hits if h.source == "curriculum"]
    if week:
        own = [h for h in own if h.kind == "week"] or own
    if not own:
        return []
    first = min(own, key=lambda h: h.chunk_id)
    return _opening(first, first.title)


def _opening(hit: Hit, heading: str) -> list[tuple[Hit, str]]:
    """A chunk's heading and its first sentences after it: an overview, as quotes."""
    texts = [heading, *(c.text for c in candidates_of(hit) if c.text != heading)]
    return [(hit, t) for t in texts[:QUOTES]]


def entity_overview(question: str, hits: list[Hit]) -> list[tuple[Hit, str]]:
    """ "Demo 3是什么？", "Give me the short version of Demo 1": a question that names a
    numbered part of the plan and asks nothing more is answered by the best-ranked chunk
    about it (its title or heading names it): that heading and its first sentences."""
    entities = entities_of(question)
    if not entities:
        return []
    names = {name for name, _number in entities}
    asked = {t for t in key_terms(question) if t not in names and not t.isdigit()}
    if asked:
        return []
    about = [h for h in hits if _about_entity(h, entities)]
    if not about:
        return []
    first = about[0]
    return _opening(first, heading_of(first) or first.title)


# The type of answer a question asks for, and what a quote must hold to be one. A price
# needs an amount of money and a "when" needs a date or a week (第8周, 2026-01-07): quotes
# that merely share the question's names ("曦望sunrise", "飞书") are not an answer to
# "曦望sunrise 的年薪多少" or "下一届竞赛什么时候报名", so the answer is "not found".
_PRICE_WORDS = frozenset(
    # 多少钱 is matched as written: jieba may cut it into 多少 + 钱
    "价格 价钱 售价 费用 会员费 年费 工资 薪资 薪水 薪酬 年薪 月薪 收费 起薪 待遇 福利待遇 奖金 奖金池".split()
)
# not "cost" or "pay": "the memory cost of the KV cache", "pay attention to"
# (as Latin words: "base salary给多少" has no \b between y and 给)
_ASKS_PRICE_EN = re.compile(
    r"(?<![A-Za-z])(?:salary|salaries|price|prices|fee|fees)(?![A-Za-z])", re.IGNORECASE
)


def asks_price(question: str) -> bool:
    """Whether the question asks what something costs. Chinese price words are matched as
    words: "免费用多久" (free, for how long) holds 费用 but asks no price."""
    if _ASKS_PRICE_EN.search(question) or "多少钱" in question:
        return True
    return any(word in _PRICE_WORDS for word in kbtext.words_of(question))


_AMOUNT = re.compile(r"\d\s*(?:元|块|万|千|[kK]\b|美元|USD|RMB)|[￥¥$]\s*\d")
_ASKS_WHEN = re.compile(
    r"什么时候|何时|哪天|哪一天|几号|几月|哪年|哪一年|\bwhen\b|\bwhat date\b", re.IGNORECASE
)
# "When I get stuck on CUDA, which community should I join?", "What should I do when I'm
# stuck?": "when" starts a condition, and another question word asks.
_WH = r"(?:which|what|how|who|whom|where|why|should|do|does|did|can|could|is|are|will)"
_WHEN_CONDITION = re.compile(
    rf"\bwhen\b[^,，.?？!]*[,，]\s*{_WH}\b|(?:^|[.?!]\s+){_WH}\b[^.?!]*\bwhen\b", re.I
)


def asks_when(question: str) -> bool:
    """Whether the question asks for a time ("什么时候学 TensorRT", "When is Demo 1 due?"),
    not only names a condition with "when"."""
    match = _ASKS_WHEN.search(question)
    if not match:
        return False
    if match.group(0).lower() != "when":
        return True
    return not _WHEN_CONDITION.search(question)


# What answers "when": a year, a date, a month, a week or day of the plan ("第8周",
# "Day 1-2", "2026-01-07"); not any number ("第8篇").
_WHEN = re.compile(
    r"(?:19|20)\d\d|\d\s*[年月日号周天]|第\s*\d+\s*[周天]|\b(?:week|day|w)\s*\d+",
    re.IGNORECASE,
)
# "When can I get the Sunrise SDK?" → "入职后通过公司渠道": a time relative to the learner's
# path (after joining, at the interview stage, after a week's work) answers the learner's
# "when" too, not a date asked ("哪天", "几号", "what date").
_WHEN_RELATIVE = re.compile(r"入职|面试(?:前|时|阶段)|(?:之|以)[后前]|完成后|结束后|学完|阶段")
_ASKS_LEARNER = re.compile(r"我|\b(?:I|my|we)\b", re.IGNORECASE)
_ASKS_DATE = re.compile(
    r"哪天|哪一天|几号|几月|哪年|哪一年|what (?:date|day|year)|which (?:date|day)", re.I
)
_ASKS_YEAR = re.compile(r"哪年|哪一年|几几年|年份|\bwhat year\b|\bwhich year\b", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)|\d\s*年")
# "vLLM和TensorRT-LLM相比哪个更强", "飞书和钉钉比起来": a comparison needs both sides; an
# answer that quotes only the one the plan mentions compares nothing.
_COMPARISON = re.compile(
    # not 比较 alone: "哪些网站比较好" uses it as "rather"
    r"相比|比起来|哪个更|谁更|哪个好|区别|差别|对比|"
    r"\bvs\.?(?!\w)|\bversus\b|\bcompared?\b|\bbetter than\b|\bdifference between\b",
    re.IGNORECASE,
)
_CONJUNCTION = re.compile(r"和|与|跟|\band\b|\bvs\.?(?!\w)|\bversus\b", re.IGNORECASE)
_LATIN_NAME = r"[A-Za-z][A-Za-z0-9.+\-]*(?:\s+\d+(?:\.\d+)*)?"


def _compared(question: str) -> tuple[str, str] | None:
    """The two things a comparison question compares, or None when it compares nothing."""
    if not _COMPARISON.search(question):
        return None
    conjunction = _CONJUNCTION.search(question)
    if not conjunction:
        return None
    left, right = question[: conjunction.start()], question[conjunction.end() :]
    latin_left = re.search(rf"({_LATIN_NAME})\s*$", left)
    latin_right = re.match(rf"\s*({_LATIN_NAME})", right)
    a = latin_left.group(1) if latin_left else _chinese_side(left, last=True)
    b = latin_right.group(1) if latin_right else _chinese_side(right, last=False)
    return (a.strip(), b.strip()) if a and b else None


def _chinese_side(text: str, *, last: bool) -> str:
    """The Chinese word next to the conjunction: jieba's, or two characters when jieba
    cuts a name it does not know (飞书 → 飞 + 书)."""
    words = [w for w in kbtext.words_of(text) if w.strip()]
    if not words:
        return ""
    word = words[-1] if last else words[0]
    if len(word) >= 2 or not re.match(r"[\u4e00-\u9fff]", word):
        return word if re.search(r"[\w\u4e00-\u9fff]", word) else ""
    run = re.search(r"[\u4e00-\u9fff]{2}$", text) if last else re.match(r"[\u4e00-\u9fff]{2}", text)
    return run.group(0) if run else word


_STATED_NUMBER = re.compile(
    rf"(?<![A-Za-z])\d|[一二三四五六七八九十两半][{MEASURE_WORDS}轮次种倍成]"
)
# "当前版本号是多少", "what version number": a version answers it (v1.0, 3.10+)
_ASKS_VERSION_NUMBER = re.compile(r"版本号|\bversion numbers?\b", re.IGNORECASE)
_VERSION_NUMBER = re.compile(r"\d+(?:\.\d+)+|\bv\d", re.IGNORECASE)
_NUMBERED_NAME = re.compile(r"\b(?:Demo|Q)\s*\d+\b|(?:^|/)\s*\d+\s+(?=\S)", re.I | re.M)
_ASKS_AMOUNT = re.compile(r"多少|\bhow much\b", re.IGNORECASE)
_ASKS_COUNT = re.compile(r"几|\bhow many\b", re.IGNORECASE)
_NAMED_NUMBER = re.compile(r"\d+(?:\.\d+)+|(?<=[A-Za-z\s-])\d+(?=[A-Za-z-])")
# "频率是多少", "how often": a frequency answers it ("每月总结", "weekly")
_ASKS_FREQUENCY = re.compile(
    r"频率|(?:多久|多长时间)\w{0,4}一次|每隔多久|how often|how frequently", re.IGNORECASE
)
_FREQUENCY = re.compile(r"每[天日周月年季]|\b(?:daily|weekly|monthly|yearly)\b", re.IGNORECASE)

# A count of a unit ("要几GB显存", "审核要几天", "每分钟能调多少次", "每天学几个小时") is
# answered by a number of that unit: "节省46%显存" does not say how many GB.
_ASKED_UNITS = [
    (
        # ... or an amount proposed: "跑起来要多少显存 24G够吗"
        re.compile(
            r"(?:多少|几)\s*个?\s*(?:GB|G|MB|TB)(?![A-Za-z])|\bhow many (?:GB|MB)\b"
            r"|\d\s*(?:GB|G)\s*(?:显存|内存)?\s*(?:够|足够|行|可以|enough)",
            re.I,
        ),
        re.compile(r"\d\s*(?:GB|G|MB|TB)(?![A-Za-z])", re.IGNORECASE),
    ),
    (
        # ("How many GPU hours", "多少GPU小时": the hours of something)
        re.compile(
            r"(?:多少|几)\s*个?\s*(?:[A-Za-z]+\s*)?(?:小时|钟头)"
            r"|\bhow many (?:[\w-]+ ){0,3}hours\b",
            re.IGNORECASE,
        ),
        re.compile(r"\d\s*(?:小时|h(?![A-Za-z])|hours?\b|hrs?\b)", re.IGNORECASE),
    ),
    (
        re.compile(r"(?:多少|几)\s*天|\bhow many (?:[\w-]+ ){0,2}days\b", re.IGNORECASE),
        # not a week of the plan: "（第14周）" says when, not how many days
        re.compile(r"\d\s*天|\bDay\s*\d|\d\s*days?\b", re.IGNORECASE),
    ),
    (
        # "延迟目标是多少毫秒": a time in (milli)seconds, not "3x吞吐量提升"
        re.compile(
            r"(?:多少|几)\s*(?:毫秒|微秒|秒|ms)|\bhow many (?:ms|milliseconds|seconds)\b", re.I
        ),
        re.compile(r"\d\s*(?:毫秒|微秒|秒|ms|s)(?![A-Za-z])|\d\s*(?:milli)?seconds?\b", re.I),
    ),
    (
        re.compile(r"(?:多少|几)\s*次|\bhow many times\b", re.IGNORECASE),
        re.compile(rf"\d\s*次|{_FREQUENCY.pattern}", re.IGNORECASE),
    ),
]


def states_the_unit_asked(question: str, said: str) -> bool:
    return all(not asks.search(question) or states.search(said) for asks, states in _ASKED_UNITS)


# "曦望sunrise的办公室在哪个城市", "What's the street address of Sunrise's office": a place
# answers it (a city, a street, a building), not a line that merely names the company.
# Not 地址 alone: "GitHub 仓库地址" asks for a link.
_ASKS_PLACE = re.compile(
    r"哪个城市|哪座城市|什么城市|哪条街|哪条路|总部|办公(?:室|地点|地址|楼)|坐地铁|"
    r"\b(?:headquarters|street address|office address|located|which city)\b",
    re.IGNORECASE,
)
_PLACE = re.compile(
    r"[\u4e00-\u9fff]{1,8}(?:市|省|区|县|路|街|大道|大厦|广场|园区|号楼)|"
    r"北京|上海|深圳|杭州|广州|南京|成都|武汉|西安|苏州|"
    r"\b(?:street|road|avenue|city|district|building)\b",
    re.IGNORECASE,
)


def answers_the_type_asked(question: str, quotes: list[str]) -> bool:
    said = "\n".join(quotes)
    if _ASKS_PLACE.search(question) and not _PLACE.search(said):
        return False
    compared = _compared(question)
    if compared and not all(side.lower() in said.lower() for side in compared):
        return False
    if asks_price(question) and not _AMOUNT.search(said):
        return False
    if _ASKS_YEAR.search(question) and not _YEAR.search(said):
        return False
    if _ASKS_VERSION_NUMBER.search(question) and not _VERSION_NUMBER.search(said):
        return False  # "飞书SDK要用哪个具体的版本号": a line that names the SDK says none
    if asks_when(question) and not _WHEN.search(said):
        # (the learner's own path: "When can I …", "我什么时候…"; not "曦望今年什么时候校招")
        relative = _ASKS_LEARNER.search(question) and _WHEN_RELATIVE.search(said)
        if _ASKS_DATE.search(question) or not relative:
            return False
    link = _ASKS_LINK.search(question)  # "网址是多少" asks for an address
    frequency = _ASKS_FREQUENCY.search(question) and _FREQUENCY.search(said)
    # "MIT 6.0001这门课有多少节视频": the number the question names is no count it asks for
    named = sorted(set(_NAMED_NUMBER.findall(question)), key=len, reverse=True)
    alternatives = "|".join(map(re.escape, named))
    counted = re.sub(rf"(?<![\d.])(?:{alternatives})(?![\d.]*\d)", " ", said) if named else said
    if _ASKS_AMOUNT.search(question) and not _ASKS_COUNT.search(question):
        # An amount ("要多少显存", "学习率设成多少") is no number of a name or a section ("Demo
        # 3", "文档结构 / 4 AI Agent…"); a count ("共有几步") is answered by a list's items.
        counted = _NUMBERED_NAME.sub(" ", counted)
    if asks_quantity(question) and not (link or frequency or _STATED_NUMBER.search(counted)):
        return False  # "曦望面试一般几轮": quotes that state no number do not answer it
    return states_the_unit_asked(question, said)


def _titled(chosen: list[tuple[Hit, str]], focused: set[int]) -> list[tuple[Hit, str]]:
    """An answer from the week or phase the question names starts with that item's title
    ("第二阶段 硬件优化（第5-8周）"): the quotes under it ("学习重点：GPU架构/CUDA/优化") do not
    say which week or phase they belong to."""
    hit = chosen[0][0]
    if hit.chunk_id not in focused or any(text.startswith(hit.title) for _h, text in chosen):
        return chosen
    return [(hit, hit.title), *chosen]


def _headed(chosen: list[tuple[Hit, str]]) -> list[tuple[Hit, str]]:
    """An answer whose quotes do not say what they are about starts with the heading they
    stand under: "每周约 40%，是占比最大的一块。" is about "时间分配建议 / 实践项目"."""
    hit = chosen[0][0]
    heading = heading_of(hit)
    if not heading:
        return chosen
    said = set().union(*(_words(text) for _h, text in chosen))
    if _words(heading.split(" / ")[-1]) & said:
        return chosen
    return [(hit, _label(f"{hit.title} / {heading}")), *chosen]


# What a question asks "which" of, and how the plan names one: a day ("Day 1-2"), a Demo.
_ASKS_WHICH = (
    (
        re.compile(r"哪(?:几|一)?天|第几天|\b(?:which|what) days?\b", re.I),
        re.compile(r"\bday\s*\d", re.I),
    ),
    (
        re.compile(r"哪(?:一)?个\s*demo|\b(?:which|what) demo\b", re.I),
        re.compile(r"\bdemo\s*\d", re.I),
    ),
)


def _with_which(chosen: list[tuple[Hit, str]], question: str) -> list[tuple[Hit, str]]:
    """ "注册 Hugging Face 账号是第一周哪几天的任务", "which demo uses Gradio": the day or Demo
    is the heading, lead-in or title the quote stands under ("任务清单 / Day 1-2：环境准备"),
    so it is quoted before it when no quote names one."""
    for asks, named in _ASKS_WHICH:
        if not asks.search(question) or any(named.search(text) for _h, text in chosen):
            continue
        for at, (hit, text) in enumerate(chosen):
            for label in (heading_of(hit), hit.title, context_of(hit, text)):
                part = next((p for p in reversed(label.split(" / ")) if named.search(p)), "")
                if part:
                    return [*chosen[:at], (hit, _label(part)), *chosen[at:]]
    return chosen


def _framed(
    chosen: list[tuple[Hit, str]], question: str, focus: Focus, focused: set[int], hits: list[Hit]
) -> list[tuple[Hit, str]]:
    """The quotes with what says what they are about: the week's or paper's title, or the
    heading they are under; a week or phase asked about alone gets its overview; the day
    or Demo a question asks for."""
    if not chosen and (focus.week or focus.phase):
        return overview_quotes([h for h in hits if h.chunk_id in focused], week=bool(focus.week))
    if not chosen:
        return entity_overview(question, hits)
    which = _with_which(chosen, question)
    if chosen and (focus.week or focus.phase or asks_about_the_paper(question, focus)):
        return _titled(which, focused)
    if chosen and asks_which_week(question) and chosen[0][0].kind == "week":
        return _titled(which, {chosen[0][0].chunk_id})  # its title names the week
    if which is not chosen:
        return which  # the label of the day or Demo asked for says what the quotes are about
    return _headed(chosen) if chosen else chosen


_ASKS_MILESTONE = re.compile(r"里程碑|\bmilestones?\b", re.IGNORECASE)


def _with_phase_milestone(
    chosen: list[tuple[Hit, str]], question: str, focus: Focus, hits: list[Hit]
) -> list[tuple[Hit, str]]:
    """The milestone of the last week of a phase ("第4周结束时的里程碑") is the phase's too:
    its row of the plan's table ("里程碑：基础技能掌握") follows the week's own milestone."""
    asked = focus.week and _ASKS_MILESTONE.search(question)
    phase = phase_ended_by(focus.week) if asked else None
    if not phase:
        return chosen
    said = {text for _hit, text in chosen}
    for hit in hits:
        if hit.kind != "phase" or phase_number(hit.title) != phase:
            continue
        rows = (t for t in sentences_of(hit) if (m := _PHASE_ROW.match(t)) and m[1] == "里程碑")
        row = next(rows, None)
        if row and row not in said:
            return [*chosen, (hit, hit.title), (hit, row)]
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


def unmentioned_text(names: list[str]) -> str:
    return _("The knowledge base never mentions %(names)s.") % {"names": ", ".join(names)}


def not_found_text(links: list[Link], unmentioned: list[str] | None = None) -> str:
    lines = [_("I could not find this in the knowledge base.")]
    if unmentioned:
        lines.append(unmentioned_text(unmentioned))
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


def _messages(
    question: str, chosen_hits: list[Hit], history: list[ChatMessage]
) -> list[ChatMessage]:
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
        text = generator.generate(
            _messages(question, hits, history), max_tokens=conf.llm_max_tokens()
        )
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


def _not_found(
    question: str,
    hits: list[Hit],
    focus: Focus,
    indexing: tuple[int, int] | None,
    unmentioned: list[str] | None = None,
) -> Answer:
    links = not_found_links(question)
    text = not_found_text(links, unmentioned)
    if indexing:
        text += "\n" + indexing_notice(indexing)
    return Answer(
        text,
        [],
        hits,
        mode="none",
        found=False,
        links=links,
        focus=focus,
        indexing=indexing,
        unmentioned=unmentioned or [],
    )


_REF = re.compile(r"\[(\d+)\]")
# The citation marks a line ends with: " [2]" after a quote, " [1] [2]" after generated text.
_MARKS = re.compile(r"(?: \[\d+\])+$", re.MULTILINE)


def _joined(answers: list[Answer]) -> Answer:
    """One answer made of the answers to each part of a question, in order: their
    citations numbered anew (a passage cited by both keeps one number), the indexing
    notice said once."""
    citations: dict[int, Citation] = {}
    texts, quotes, hits = [], [], {}
    given: set[tuple[str, int]] = set()  # a line an earlier part quoted is not quoted again
    for answer in answers:
        numbers = {}
        for citation in answer.citations:
            if citation.chunk_id not in citations:
                citations[citation.chunk_id] = replace(citation, index=len(citations) + 1)
            numbers[citation.index] = citations[citation.chunk_id].index
        text = answer.text.rsplit("\n", 1)[0] if answer.indexing else answer.text
        renumbered = [replace(q, citation=numbers[q.citation]) for q in answer.quotes]
        quoted = quoted_text(answer.quotes)
        if answer.mode == "quote" and quoted and text.endswith(quoted):
            # rewritten from its quotes: a "[3]" inside a quoted sentence stays as written
            renumbered = [q for q in renumbered if (q.text, q.citation) not in given]
            text = text.removesuffix(quoted) + quoted_text(renumbered)
        else:
            text = _MARKS.sub(
                lambda tail, n=numbers: _REF.sub(
                    lambda m: f"[{n.get(int(m.group(1)), m.group(1))}]", tail.group(0)
                ),
                text,
            )
        if text.strip():
            texts.append(text.rstrip("\n"))
        given |= {(q.text, q.citation) for q in renumbered}
        quotes += renumbered
        hits.update({h.chunk_id: h for h in answer.hits if h.chunk_id not in hits})
    first = answers[0]
    text = "\n".join(texts)
    if first.indexing:
        text += "\n" + indexing_notice(first.indexing)
    modes = {answer.mode for answer in answers}
    return Answer(
        text,
        list(citations.values()),
        list(hits.values()),
        mode=modes.pop() if len(modes) == 1 else "+".join(sorted(modes)),
        quotes=quotes,
        focus=first.focus,
        indexing=first.indexing,
    )


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
    whole = normalise(question.strip()[:MAX_QUESTION_CHARS])
    asked = asked_part(whole)
    unscened = without_scene_week(asked)
    if unscened:
        # "第6周我在学芯片架构，必读清单里芯片架构方向是哪篇论文？": asked of the whole plan
        # first; the week's own pages answer when nothing else does.
        answer = _answer(unscened, user=user, sources=sources, history=history, llm=llm)
        if not answer.found:
            # ... and then the week's page only with a sentence that answers: its overview
            # is no answer to "第12周一直在跑ChatGLM-6B，这周末北京天气适合出去放松一下吗？"
            answer = _answer(
                asked, user=user, sources=sources, history=history, llm=llm, overview=False
            )
    else:
        answer = _answer(asked, user=user, sources=sources, history=history, llm=llm)
        scene_free = without_scene_week(asked, first_person=False)
        if scene_free:
            # "第13周搭飞书知识库问答机器人，向量数据库用哪个？": the week may be the subject or
            # only the scene. Its own pages answer, unless the whole plan's answer says more
            # of what the last clause asks (向量数据库: FAISS, which week 13 never names).
            clause = asked_clause(asked)
            said = _says_of(answer, clause)
            if said < len(kbtext.query_terms(clause)):
                other = _answer(scene_free, user=user, sources=sources, history=history, llm=llm)
                if other.found and _says_of(other, clause) > said:
                    answer = other
    if not answer.found and asked != whole:
        # "I don't have a GPU at home. What free option does the plan suggest first?": the
        # question alone says too little, so the sentences before it are read with it.
        fuller = _answer(whole, user=user, sources=sources, history=history, llm=llm)
        if fuller.found:
            return fuller
    return answer


def _says_of(answer: Answer, clause: str) -> int:
    """How many of a clause's search words (or, for an English one, their Chinese glosses)
    the answer's quotes say; 0 for an answer that abstains."""
    if not answer.found:
        return 0
    said = _squash(" ".join(quote.text for quote in answer.quotes))
    known = known_words_for(clause)
    return sum(
        1
        for term in kbtext.query_terms(clause)
        if any(_squash(word) in said for word in (term, *kbtext.glosses(term, known)))
    )


def _answer(
    question: str,
    *,
    user: object,
    sources: list[str] | None,
    history: list[ChatMessage] | None,
    llm: LLM | None | bool,
    overview: bool = True,
) -> Answer:
    """answer_question for a question already normalised and cut to its asked part; without
    `overview`, a week or phase named gets no overview when no sentence answers."""
    parts = each_part(question)
    if parts:
        answers = [
            answer_question(part, user=user, sources=sources, history=history, llm=llm)
            for part in parts
        ]
        if all(answer.found for answer in answers):
            return _joined(answers)
    focus = focus_of(question)
    belief = checks_a_belief(question)
    if belief:
        question = without_proposed_numbers(question)
    indexing = _indexing()
    names = specific_names(question)
    unmentioned = [
        name
        for name in mentioned_nowhere(names, user=user, sources=sources)
        if not mentioned_in_a_compound(name, question, user=user, sources=sources)
    ]
    # ... or offers it as one of the alternatives to choose from ("Gradio还是Streamlit？"),
    # beside another that the plan does say
    offered = alternatives_offered(question, names)
    choice = bool(set(offered) & set(unmentioned)) and bool(set(offered) - set(unmentioned))
    rest = without_names(question, unmentioned) if unmentioned and (belief or choice) else question
    if rest != question:
        # "Demo 2 的向量库是 Milvus 吗？": the plan never says Milvus, but it may say which
        # one it is. That answer follows the line saying the name is nowhere.
        answer = answer_question(rest, user=user, sources=sources, history=history, llm=llm)
        if answer.found:
            answer.text = unmentioned_text(unmentioned) + "\n" + answer.text
            answer.unmentioned = unmentioned
            return answer
    hits = hybrid_search(question, user=user, sources=sources, k=TOP_K)
    if unmentioned:
        # "TensorRT-LLM 怎么安装？": no passage names it, so any quote is about something else.
        return _not_found(question, hits, focus, indexing, unmentioned)
    relevant = [h for h in hits if h.relevant]
    focused: set[int] = set()
    if focus:
        # The question names a week/phase/paper: that item's chunks are searched on their
        # own and preferred; the rest of the knowledge base still competes.
        within = hybrid_search(question, user=user, sources=sources, k=FOCUS_K, focus=focus)
        if focus.phase and not focus.week:
            # The phase's own document always competes: among its weeks' many chunks it
            # would often miss the top k although it states the phase's focus and milestone.
            own = hybrid_search(
                question, user=user, sources=sources, k=FOCUS_K,
                focus=replace(focus, kinds=("phase",)),
            )  # fmt: skip
            ids = {h.chunk_id for h in within}
            within += [h for h in own if h.chunk_id not in ids]
        elif focus.week and (phase := phase_of_span(focus.week, focus.week)):
            # A week's phase document holds the plan's 16-week table row for it (学习重点,
            # Kaggle活动, 产出): "第10周的学习重点是什么" is answered by its phase's row.
            own = hybrid_search(
                question, user=user, sources=sources, k=PHASE_ROW_K,
                focus=Focus(phase=phase, kinds=("phase",)),
            )  # fmt: skip
            ids = {h.chunk_id for h in within}
            within += [h for h in own if h.chunk_id not in ids]
        if not within and not names_a_part_of_the_plan(focus):
            # A week or phase the plan does not have (第20周 of a 16-week plan): whatever
            # else matches the words is about another week, so the answer is "not found".
            return _not_found(question, hits, focus, indexing)
        focused = {h.chunk_id for h in within}
        for hit in within:
            hit.relevant = True
        relevant = within + [h for h in relevant if h.chunk_id not in focused]
        hits = within + [h for h in hits if h.chunk_id not in focused]
    if not focus.week:
        # The plan's sections are searched on their own too: among the curriculum's many
        # chunks they would often miss the top k although they state the fact.
        plan_hits = hybrid_search(
            question, user=user, sources=sources, k=PLAN_K, focus=Focus(kinds=("plan",))
        )
        if asks_which_week(question):
            plan_hits += hybrid_search(
                question, user=user, sources=sources, k=PLAN_K, focus=Focus(kinds=("week",))
            )
        seen_ids = {h.chunk_id for h in hits}
        extra = list({h.chunk_id: h for h in plan_hits if h.chunk_id not in seen_ids}.values())
        relevant += [h for h in extra if h.relevant]
        hits += extra
    # A phrase quoted word for word finds the chunks that say it, however far down the
    # ranking they are ("“面试阶段可先用NVIDIA GPU模拟”是回答哪个常见问题的？").
    seen_ids = {h.chunk_id for h in hits}
    quoted = [h for h in phrase_search(quoted_phrases(question), user=user, sources=sources)
              if h.chunk_id not in seen_ids]  # fmt: skip
    relevant += quoted
    hits += quoted
    known = known_words_for(question)
    chosen = parts_quotes(question, relevant[:PARTS_HITS], known)  # under their own label
    if not chosen:
        chosen = choose_quotes(question, relevant, focus=focus, focused=focused, known=known)
        if chosen or overview:
            chosen = _framed(chosen, question, focus, focused, hits)
        chosen = _with_phase_milestone(chosen, question, focus, hits) if chosen else chosen
    if not chosen or not answers_the_type_asked(question, [text for _h, text in chosen]):
        return _not_found(question, hits, focus, indexing)
    if not focus and not says_more_than_the_names(question, chosen):
        return _not_found(question, hits, focus, indexing)
    citations, quotes = _citations(chosen)
    text = quoted_text(quotes)
    mode = "quote"
    # The language check comes first: a Chinese question never reaches (or self-tests) an
    # English-only model.
    generator = None
    if kbtext.language_of(question) in conf.llm_languages():
        generator = get_verified_llm(user=user) if llm is True else llm
    if generator:
        cited_hits = [h for h in relevant if h.chunk_id in {c.chunk_id for c in citations}]
        generated = generate_verified(generator, question, cited_hits, history or [])
        if generated:
            refs = " ".join(f"[{c.index}]" for c in citations)
            text, mode = f"{generated} {refs}", generator.name
    if indexing:
        text += "\n" + indexing_notice(indexing)
    return Answer(text, citations, hits, mode=mode, quotes=quotes, focus=focus, indexing=indexing)
