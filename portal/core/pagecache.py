"""Rendered pages kept per user in Redis, invalid as soon as a table they read changes.

A page decorated with `cached_page` is rendered once per user, path, language and day, and
served from Redis until PostgreSQL data it read changes. Invalidation does not rely on model
signals (a queryset `update()`, `bulk_create()` or raw SQL sends none): every database
connection of every process (web, Celery workers, management commands) runs each statement
through `track_statement`, which

- records the tables a statement reads (`FROM` / `JOIN`) while a cached page renders, and
- after a statement that writes (`INSERT INTO`, `UPDATE`, `DELETE FROM`) commits, increments
  that table's version in one Redis hash; a statement it cannot classify (DDL, `TRUNCATE`,
  `COPY`, a writing `WITH`) replaces the epoch, which invalidates every page.

An entry stores the versions of the tables its render read, taken *before* the render; a write
bumps its table *after* its commit. So a page can hold newer data than its versions say (and is
rendered again at the next request), never older data under a newer version.

The viewer's CSRF tokens are cut out of a stored page and a fresh one is put in on each hit,
so an entry does not depend on the CSRF cookie.

Never cached: anything but a 200 HTML response to a signed-in GET; a request inside a
transaction (tests' `TestCase`); a request with pending flash messages; a response that sets
a cookie other than the CSRF one. If Redis is unavailable the page is rendered as if there were
no cache; a version bump that fails is retried every second from a background thread, and
until it succeeds this process serves no entry. Entries expire after PAGE_CACHE_TTL_S (300 s)
in any case, which bounds what a bump lost with its process can leave. `manage.py restore`
replaces the epoch itself (pg_restore's writes are not Django's).

Every response of a decorated view says what happened in `X-Page-Cache`: hit, miss or bypass.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import pickle
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CSRF_TOKEN_LENGTH, _unmask_cipher_token, get_token
from django.utils import timezone

log = logging.getLogger(__name__)

VERSIONS_KEY = "pagecache:versions"
EPOCH_FIELD = "*"
ENTRY_PREFIX = "pagecache:page:"
HEADER = "X-Page-Cache"
# Rows a page shows always depend on who the viewer is (name, staff flag): read by the
# authentication middleware before the view starts recording.
ALWAYS_DEPENDS_ON = ("auth_user",)
MAX_ENTRY_BYTES = 1 << 20
# Tables an app declared unwatched (`unwatch`): written on a hot path, shown by no cached page.
UNWATCHED: set[str] = set()
# The htmx request headers that change what a view renders.
HTMX_HEADERS = ("HX-Request", "HX-Target", "HX-Boosted", "HX-History-Restore-Request")

# Where a cached page had the viewer's CSRF token (see _without_csrf_tokens).
CSRF_SLOT = b"\x00pagecache-csrf\x00"
# Parts rendered afresh on every hit (cached_page(holes=...)): marked in the page, a slot in
# the stored copy.
_HOLE = re.compile(rb"<!--pagecache:hole (\w+)-->.*?<!--/pagecache:hole-->", re.DOTALL)
HOLE_SLOT_START = b"\x00pagecache-hole:"
_HOLE_SLOT = re.compile(re.escape(HOLE_SLOT_START) + rb"(\w+)\x00")
_TOKEN = re.compile(rb"(?<![A-Za-z0-9])[A-Za-z0-9]{%d}(?![A-Za-z0-9])" % CSRF_TOKEN_LENGTH)

READ, WRITE, OTHER, UNKNOWN = "read", "write", "other", "unknown"
_TABLES_READ = re.compile(r'\b(?:FROM|JOIN)\s+"?([A-Za-z_][A-Za-z0-9_]*)"?', re.IGNORECASE)
_TABLE_WRITTEN = re.compile(
    r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([A-Za-z_][A-Za-z0-9_]*)"?', re.IGNORECASE
)
_NOT_DATA = ("SAVEPOINT", "RELEASE", "ROLLBACK", "SET ", "SHOW", "BEGIN", "COMMIT", "RESET")
_WRITE_WORDS = re.compile(r"\b(?:INSERT|UPDATE|DELETE|TRUNCATE|MERGE)\b", re.IGNORECASE)

_reads: ContextVar[set[str] | None] = ContextVar("pagecache_reads", default=None)
_pending: set[str] = set()
_pending_lock = threading.Lock()
_retrier: threading.Thread | None = None


@functools.lru_cache(maxsize=4096)
def classify(sql: str) -> tuple[str, frozenset[str]]:
    """What a statement does to data: (READ, tables read), (WRITE, {table}), (OTHER, {}) for
    transaction control and settings, (UNKNOWN, {}) for anything else (treated as a write
    to every table)."""
    head = sql.lstrip().upper()
    if head.startswith(("SELECT", "VALUES", "EXPLAIN")) or (
        head.startswith("WITH") and not _WRITE_WORDS.search(sql)
    ):
        return READ, frozenset(t.lower() for t in _TABLES_READ.findall(sql))
    written = _TABLE_WRITTEN.match(sql)
    if written:
        return WRITE, frozenset({written.group(1).lower()})
    if head.startswith(_NOT_DATA):
        return OTHER, frozenset()
    return UNKNOWN, frozenset()


def track_statement(execute, sql, params, many, context):  # noqa: ANN001, ANN201
    """Django execute wrapper installed on every connection (see `install`)."""
    kind, tables = classify(sql) if isinstance(sql, str) else (UNKNOWN, frozenset())
    if kind == READ:
        depends_on(*tables)
    result = execute(sql, params, many, context)
    if kind == WRITE and not tables <= UNWATCHED:
        _after_commit(context["connection"], tables - UNWATCHED)
    elif kind == UNKNOWN:
        _after_commit(context["connection"], frozenset({EPOCH_FIELD}))
    return result


class VersionBump:
    """An on_commit callback bumping some tables (one per table and savepoint level)."""

    def __init__(self, tables: frozenset[str]) -> None:
        self.tables = tables

    def __call__(self) -> None:
        bump(self.tables)


def _after_commit(connection: Any, tables: frozenset[str]) -> None:
    """Bump `tables` once the statement's transaction commits (at once in autocommit).

    A transaction writing one table a thousand times registers one callback: a write is
    covered by an earlier callback registered at the same or an enclosing savepoint level,
    since a rollback discarding that callback discards this write too.
    """
    if not connection.in_atomic_block:
        bump(tables)  # autocommit: committed already
        return
    current = set(connection.savepoint_ids)
    missing = set(tables)
    for sids, func, *_ in connection.run_on_commit:
        if isinstance(func, VersionBump) and sids <= current:
            missing -= func.tables
            if not missing:
                return
    connection.on_commit(VersionBump(frozenset(missing)), robust=True)


def unwatch(*tables: str) -> None:
    """Writes to `tables` bump no version, and a page whose render reads one is never stored:
    for tables written on a path that must stay fast and that no cached page shows (Feishu's
    deliveries, stored in their acknowledgement)."""
    UNWATCHED.update(tables)


def depends_on(*tables: str) -> None:
    """Record that the page being rendered shows rows of `tables` (a process-level copy of
    rows, served without a query, says so itself)."""
    reads = _reads.get()
    if reads is not None:
        reads.update(tables)


@contextmanager
def fresh_part() -> Iterator[None]:
    """Reads for a part of the page that `cached_page(holes=...)` renders afresh on every
    hit: the stored page does not depend on them."""
    token = _reads.set(None)
    try:
        yield
    finally:
        _reads.reset(token)


@contextmanager
def recording() -> Iterator[set[str]]:
    """The tables read inside the block (also recorded for the page being rendered)."""
    outer = _reads.get()
    tables: set[str] = set()
    token = _reads.set(tables)
    try:
        yield tables
    finally:
        _reads.reset(token)
        if outer is not None:
            outer.update(tables)


def install(sender: Any, connection: Any, **kwargs: Any) -> None:
    """`connection_created` receiver: every connection of every process tracks its writes."""
    if track_statement not in connection.execute_wrappers:
        connection.execute_wrappers.append(track_statement)


def _client() -> Any:
    from django.core.cache import cache

    return cache._cache.get_client(write=True)


def _key(name: str) -> str:
    from django.core.cache import cache

    return cache.make_key(name)


def bump(tables: Iterable[str]) -> None:
    """New versions for the tables written (EPOCH_FIELD: every table). Never raises: a bump
    Redis refuses is kept and retried by a background thread."""
    tables = set(tables)
    with _pending_lock:
        tables |= _pending
        _pending.clear()
    try:
        _send_bumps(tables)
    except Exception as exc:  # noqa: BLE001 - Redis down must not fail the write that committed
        log.warning("page cache: version bump for %s failed (%s); retrying", sorted(tables), exc)
        with _pending_lock:
            _pending.update(tables)
        _start_retrier()


def _send_bumps(tables: set[str]) -> None:
    pipe = _client().pipeline(transaction=False)
    for table in sorted(tables):
        if table == EPOCH_FIELD:
            pipe.hset(_key(VERSIONS_KEY), EPOCH_FIELD, uuid.uuid4().hex)
        else:
            pipe.hincrby(_key(VERSIONS_KEY), table, 1)
    pipe.execute()


def _start_retrier() -> None:
    global _retrier
    with _pending_lock:
        if _retrier is not None and _retrier.is_alive():
            return
        _retrier = threading.Thread(target=_retry_pending, name="pagecache-bumps", daemon=True)
        _retrier.start()


def _retry_pending() -> None:
    global _retrier
    while True:
        time.sleep(1.0)
        with _pending_lock:
            tables = set(_pending)
            if not tables:
                _retrier = None  # under the lock: a failure after this starts a new thread
                return
        try:
            _send_bumps(tables)
        except Exception:  # noqa: BLE001, S112 - still down: try again in a second
            continue
        with _pending_lock:
            _pending.difference_update(tables)
        log.warning("page cache: delayed version bump for %s sent", sorted(tables))


def send_epoch() -> None:
    """Every cached page is stale (after writes Django did not make, e.g. pg_restore); raises
    if Redis refuses, for a command that ends at once and cannot leave a retry behind."""
    _send_bumps({EPOCH_FIELD})


@functools.cache
def _code_fingerprint() -> str:
    """Pages rendered by other code (templates, views) never match: the newest file time."""
    root = Path(settings.BASE_DIR)
    newest = 0.0
    for folder in ("portal", "templates"):
        for path in (root / folder).rglob("*"):
            if path.suffix in {".py", ".html", ".mo"}:
                newest = max(newest, path.stat().st_mtime)
    return f"{newest:.0f}"


def _entry_key(request: HttpRequest, vary: Callable[[HttpRequest], object] | None) -> str:
    parts = [
        repr(vary(request)) if vary is not None else "",
        str(request.user.pk),
        getattr(request, "LANGUAGE_CODE", "") or "",
        timezone.localdate().isoformat(),
        request.get_full_path(),
        *(request.headers.get(name, "") for name in HTMX_HEADERS),
        _code_fingerprint(),
    ]
    return _key(ENTRY_PREFIX + hashlib.sha256("\0".join(parts).encode()).hexdigest())


def _bypass_reason(request: HttpRequest) -> str | None:
    if not settings.PAGE_CACHE:
        return "disabled"
    if request.method != "GET" or not request.user.is_authenticated:
        return "method"
    if connections["default"].in_atomic_block:
        return "transaction"
    storage = getattr(request, "_messages", None)
    if storage is not None and len(storage):
        return "messages"
    with _pending_lock:
        if _pending:
            return "pending bumps"
    return None


def _cacheable(response: HttpResponse) -> bool:
    if response.status_code != 200 or response.streaming:
        return False
    if not response.get("Content-Type", "").startswith("text/html"):
        return False
    cookies = set(response.cookies) - {settings.CSRF_COOKIE_NAME}
    return not cookies and len(response.content) <= MAX_ENTRY_BYTES


def _without_csrf_tokens(request: HttpRequest, content: bytes) -> bytes:
    """The page with each CSRF token of this viewer replaced by CSRF_SLOT.

    Tokens are masked afresh for every form, so a page holds several; each is recognised by
    unmasking to the viewer's secret. A hit puts a fresh token in every slot: the entry does
    not depend on the CSRF cookie, which a sign-in rotates.
    """
    secret = request.META.get("CSRF_COOKIE")
    if not secret:
        return content

    def slot(match: re.Match[bytes]) -> bytes:
        token = match.group(0).decode()
        return CSRF_SLOT if _unmask_cipher_token(token) == secret else match.group(0)

    return _TOKEN.sub(slot, content)


def _from_entry(
    request: HttpRequest, entry: dict[str, Any], holes: dict[str, Callable[[HttpRequest], str]]
) -> HttpResponse | None:
    """The stored page with its holes and CSRF tokens filled in; None if it has a hole this
    view no longer fills."""
    content = entry["content"]
    if HOLE_SLOT_START in content:
        names = {name.decode() for name in _HOLE_SLOT.findall(content)}
        if not names <= holes.keys():
            return None
        content = _HOLE_SLOT.sub(lambda m: holes[m.group(1).decode()](request).encode(), content)
    if CSRF_SLOT in content:
        content = content.replace(CSRF_SLOT, get_token(request).encode())
    else:
        get_token(request)  # the CSRF cookie is refreshed as on a render
    response = HttpResponse(content, status=entry["status"])
    for name, value in entry["headers"]:
        response.headers[name] = value
    return response


def cached_page(
    view: Callable[..., HttpResponse] | None = None,
    *,
    vary: Callable[[HttpRequest], object] | None = None,
    holes: dict[str, Callable[[HttpRequest], str]] | None = None,
    unless: Callable[[HttpRequest], bool] | None = None,
) -> Any:
    """Serve `view`'s page from the cache while the tables it read are unchanged.

    `vary(request)`: what else, outside PostgreSQL, the page shows (part of the key).
    `holes`: parts of the page rendered afresh for every response (live telemetry), by name;
    the template wraps each in `<!--pagecache:hole NAME-->` … `<!--/pagecache:hole-->`, and
    the view reads their data inside `fresh_part()`.
    `unless(request)`: true for requests never cached (e.g. an htmx poll of a live part).
    """
    if view is None:
        return functools.partial(cached_page, vary=vary, holes=holes, unless=unless)

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        reason = _bypass_reason(request) or (
            "live part" if unless is not None and unless(request) else None
        )
        key = _entry_key(request, vary) if reason is None else None
        versions: dict[bytes, bytes] | None = None
        if key is not None:
            try:
                raw, versions = (
                    _client()
                    .pipeline(transaction=False)
                    .get(key)
                    .hgetall(_key(VERSIONS_KEY))
                    .execute()
                )
                if EPOCH_FIELD.encode() not in versions:
                    versions = _start_epoch()
            except Exception as exc:  # noqa: BLE001 - Redis down: render as if uncached
                log.warning("page cache unavailable: %s", exc)
                key = None
            else:
                entry = _load_entry(raw)
                response = (
                    _from_entry(request, entry, holes or {})
                    if entry is not None and _still_valid(entry, versions)
                    else None
                )
                if response is not None:
                    response[HEADER] = "hit"
                    return response
        with recording() if key is not None else nullcontext() as read:
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
        if (
            key is None
            or versions is None
            or read is None
            or read & UNWATCHED
            or not _cacheable(response)
        ):
            response[HEADER] = "bypass" if key is None else "miss"
            return response
        _store(request, key, response, read | set(ALWAYS_DEPENDS_ON), versions)
        response[HEADER] = "miss"
        return response

    return wrapper


def _load_entry(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        entry = pickle.loads(raw)  # noqa: S301 - written by this module only
    except Exception:  # noqa: BLE001 - unreadable: rendered again and replaced
        return None
    return entry if isinstance(entry, dict) and "depends" in entry else None


def _start_epoch() -> dict[bytes, bytes]:
    client = _client()
    client.hsetnx(_key(VERSIONS_KEY), EPOCH_FIELD, uuid.uuid4().hex)
    return client.hgetall(_key(VERSIONS_KEY))


def _version(versions: dict[bytes, bytes], table: str) -> bytes:
    return versions.get(table.encode(), b"0")


def _still_valid(entry: dict[str, Any], versions: dict[bytes, bytes]) -> bool:
    if entry.get("epoch") != _version(versions, EPOCH_FIELD):
        return False
    return all(_version(versions, t) == v for t, v in entry["depends"].items())


def _store(
    request: HttpRequest,
    key: str,
    response: HttpResponse,
    tables: set[str],
    versions: dict[bytes, bytes],
) -> None:
    entry = {
        "epoch": _version(versions, EPOCH_FIELD),
        "depends": {t: _version(versions, t) for t in sorted(tables)},
        "status": response.status_code,
        "headers": [(k, v) for k, v in response.headers.items() if k.lower() != "set-cookie"],
        "content": _HOLE.sub(
            lambda m: HOLE_SLOT_START + m.group(1) + b"\x00",
            _without_csrf_tokens(request, response.content),
        ),
    }
    try:
        _client().set(key, pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL), ex=ttl_s())
    except Exception as exc:  # noqa: BLE001 - not cached this time; the page itself is served
        log.warning("page cache: storing failed: %s", exc)


def ttl_s() -> int:
    return int(settings.PAGE_CACHE_TTL_S)
