"""Is a sentence supported by the passages it cites?

Used on every generated answer (one unsupported sentence and the answer falls back to
quotes) and by bench/kb_eval.py to count fabricated sentences. A sentence is
supported by a passage when every number in it, every name or term (Latin words of
3+ letters, CamelCase, digits inside), appear in that passage, and enough of its
content words do (the similarity floor).
"""

from __future__ import annotations

import re

from portal.knowledge import text as kbtext

# Share of a sentence's content words that must appear in the passage.
SIMILARITY_FLOOR = 0.6
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9+#\-]{2,}")
_SPLIT = re.compile(r"(?<=[。！？!?；;])|(?<=\.)\s+|\n+")
# Words any answer may use without the passage having them.
_GLUE = frozenset(
    "the and for with that this from are was were has have its their there which week weeks "
    "plan answer about into also can will use uses used using based".split()
)


def split_sentences(text: str) -> list[str]:
    parts = (p.strip(" >-*\t") for p in _SPLIT.split(text))
    return [re.sub(r"\s*\[\d+\]\s*$", "", p).strip() for p in parts if p and len(p.strip()) > 1]


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text.lower())


def sentence_supported(sentence: str, passage: str) -> bool:
    squashed = _squash(passage)
    passage_numbers = set(_NUMBER.findall(passage))
    if any(n not in passage_numbers for n in _NUMBER.findall(sentence)):
        return False
    names = [n.lower() for n in _NAME.findall(sentence) if n.lower() not in _GLUE]
    if any(_squash(n) not in squashed for n in names):
        return False
    words = [w for w in kbtext.query_terms(sentence) if w not in _GLUE]
    if not words:
        return True
    present = sum(1 for w in words if _squash(w) in squashed)
    return present / len(words) >= SIMILARITY_FLOOR


def unsupported_sentences(text: str, passages: list[str]) -> list[str]:
    """The sentences of `text` that no single one of `passages` supports."""
    return [s for s in split_sentences(text) if not any(sentence_supported(s, p) for p in passages)]


def supported(text: str, passages: list[str]) -> bool:
    return bool(split_sentences(text)) and not unsupported_sentences(text, passages)
