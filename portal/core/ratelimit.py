"""Login throttling: too many failed sign-ins lock a username (per client address) for a while.

Failures are counted in the Redis cache under two keys: (username, address) and
(address) alone, so guessing one account's password and spraying many accounts
from one address are both stopped. Every sign-in path goes through Django's
`authenticate()` (the login form, the admin, POST /api/auth/token):
`LoginThrottleBackend`, listed first in AUTHENTICATION_BACKENDS, refuses while
locked, and the `user_login_failed` / `user_logged_in` signals count and reset.

If Redis is unreachable the throttle lets sign-ins through (logged): locking
everyone out during a cache outage would be worse than not counting.
"""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

log = logging.getLogger(__name__)

KEY_PREFIX = "login-fail"


class LoginLocked(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"locked for {retry_after_s} s")
        self.retry_after_s = retry_after_s


def _limits() -> tuple[int, int, int]:
    return (
        int(settings.LOGIN_FAILURE_LIMIT),
        int(settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS),
        int(settings.LOGIN_LOCKOUT_S),
    )


@lru_cache(maxsize=8)
def _trusted_networks(spec: tuple[str, ...]) -> tuple[IPv4Network | IPv6Network, ...]:
    return tuple(ip_network(item, strict=False) for item in spec)


def _is_trusted(address: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    try:
        ip = ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: HttpRequest | None) -> str:
    """The address that sign-in throttling and rate limits count.

    REMOTE_ADDR, unless the peer is one of PORTAL_TRUSTED_PROXIES: then the
    right-most X-Forwarded-For entry that is not itself a trusted proxy (the
    entries left of it were written by the client and prove nothing).
    """
    if request is None:
        return "-"
    peer = str(request.META.get("REMOTE_ADDR") or "-")
    networks = _trusted_networks(tuple(settings.PORTAL_TRUSTED_PROXIES))
    if not networks or not _is_trusted(peer, networks):
        return peer
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR") or "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            try:
                return str(ip_address(hop))
            except ValueError:
                return peer  # garbage from the proxy chain: count the proxy, not the text
    return peer


def _keys(username: str, address: str) -> tuple[str, str]:
    who = hashlib.sha256(username.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
    return f"{KEY_PREFIX}:user:{who}:{address}", f"{KEY_PREFIX}:addr:{address}"


def login_retry_after(request: HttpRequest | None, username: str) -> int:
    """Seconds until `username` may try again from this client; 0 when allowed."""
    per_user, per_address, lockout = _limits()
    user_key, address_key = _keys(username, client_address(request))
    try:
        counts = cache.get_many([user_key, address_key])
    except Exception as exc:  # noqa: BLE001 - any cache failure: fail open, see the module doc
        log.warning("login throttle unavailable: %s", exc.__class__.__name__)
        return 0
    if counts.get(user_key, 0) >= per_user or counts.get(address_key, 0) >= per_address:
        return lockout
    return 0


def check_login_allowed(request: HttpRequest | None, username: str) -> None:
    retry_after = login_retry_after(request, username)
    if retry_after:
        raise LoginLocked(retry_after)


def record_login_failure(request: HttpRequest | None, username: str) -> None:
    _, _, lockout = _limits()
    try:
        for key in _keys(username, client_address(request)):
            # add() starts the window; incr() keeps its expiry.
            cache.add(key, 0, timeout=lockout)
            cache.incr(key)
    except Exception as exc:  # noqa: BLE001
        log.warning("login throttle could not count a failure: %s", exc.__class__.__name__)


def clear_login_failures(request: HttpRequest | None, username: str) -> None:
    try:
        cache.delete(_keys(username, client_address(request))[0])
    except Exception as exc:  # noqa: BLE001
        log.warning("login throttle could not reset: %s", exc.__class__.__name__)


def reset_all_login_failures() -> int:
    """Forget every counted failure (tests, or an operator unlocking everyone); returns the count."""
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    keys = list(client.scan_iter(match=f"*:{KEY_PREFIX}:*"))
    if keys:
        client.delete(*keys)
    return len(keys)


class LoginThrottleBackend:
    """First in AUTHENTICATION_BACKENDS: stops `authenticate()` while the username is locked.

    It never authenticates anyone itself and has no get_user(), so sessions
    always belong to the real backend.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, **kwargs: Any
    ) -> None:
        if username is not None and login_retry_after(request, str(username)):
            raise PermissionDenied("too many failed sign-ins")
        return None


def _on_failure(sender: object, credentials: dict[str, Any], request=None, **kwargs: Any) -> None:
    username = credentials.get("username")
    if username:
        record_login_failure(request, str(username))


def _on_success(sender: object, request=None, user=None, **kwargs: Any) -> None:
    if user is not None:
        clear_login_failures(request, user.get_username())


def connect_signals() -> None:
    user_login_failed.connect(_on_failure, dispatch_uid="portal.core.ratelimit.failure")
    user_logged_in.connect(_on_success, dispatch_uid="portal.core.ratelimit.success")
