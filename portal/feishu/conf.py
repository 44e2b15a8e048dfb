"""The Feishu app's configuration: Django settings first, then the environment.

Reading lazily (not at import) lets tests override with the `settings` fixture, and
keeps these knobs out of the shared settings module.
"""

from __future__ import annotations

from portal.core.conf import setting_bool as _bool
from portal.core.conf import setting_float as _float
from portal.core.conf import setting_int as _int
from portal.core.conf import setting_str as _str


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


def events_enabled() -> bool:
    """The event URL accepts deliveries only when every request can be verified:
    the bot is enabled and both the encrypt key and the verification token are set.
    Anything less would let anyone post messages as any open_id."""
    return bot_enabled() and bool(encrypt_key()) and bool(verification_token())


EVENT_MAX_BODY_BYTES = 64 * 1024


def bind_max_attempts() -> int:
    """Wrong `/bind` codes allowed per Feishu user, and per pending code, within a
    code's lifetime (15 minutes)."""
    return _int("FEISHU_BIND_MAX_ATTEMPTS", 5)


def event_max_age_s() -> int:
    """Requests whose signed timestamp is older (or newer) than this are replays."""
    return _int("FEISHU_EVENT_MAX_AGE", 300)


def queue() -> str:
    """Celery queue for this app's jobs: its own, so a long lab run on `cpu` never
    delays a chat reply (the worker `manage.py up` starts serves it; tests isolate
    their own worker with it)."""
    return _str("FEISHU_QUEUE", "feishu")


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


def relay_enabled() -> bool:
    """Whether a worker consuming the feishu queue runs the relay (FEISHU_RELAY=0: not this
    one, e.g. a second deployment's worker on the same database)."""
    return _bool("FEISHU_RELAY", True)


def sweep_s() -> float:
    """How often the relay queues every stored event not yet queued (one stored while no
    relay listened, or whose queueing failed because Redis was down)."""
    return _float("FEISHU_SWEEP_S", 5.0)


def db_retry_s() -> float:
    """Delay before answering an event again after PostgreSQL went away midway."""
    return _float("FEISHU_DB_RETRY_S", 5.0)


def absolute(url: str) -> str:
    """An absolute URL for a portal path (Feishu cards open outside the portal)."""
    return url if url.startswith(("http://", "https://")) else portal_base_url() + url
