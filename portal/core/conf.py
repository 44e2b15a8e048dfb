"""App settings read lazily: a Django setting first, then the environment, then a default.

Reading at call time (not at import) lets tests override with the `settings` fixture and
keeps an app's knobs out of the shared settings module.
"""

from __future__ import annotations

from django.conf import settings

from portal.env import env_bool, env_float, env_int, env_str


def setting_str(name: str, default: str = "") -> str:
    value = getattr(settings, name, None)
    return str(value) if value not in (None, "") else env_str(name, default)


def setting_int(name: str, default: int) -> int:
    value = getattr(settings, name, None)
    return int(value) if value not in (None, "") else env_int(name, default)


def setting_float(name: str, default: float) -> float:
    value = getattr(settings, name, None)
    return float(value) if value not in (None, "") else env_float(name, default)


def setting_bool(name: str, default: bool) -> bool:
    """A boolean setting: a Django setting (a bool, or a string read as the environment's)
    first, then the environment (`portal.env.env_bool`: 1/0, true/false, yes/no, on/off)."""
    value = getattr(settings, name, None)
    if isinstance(value, bool):
        return value
    if value not in (None, ""):
        return env_bool(name, default, raw=str(value))
    return env_bool(name, default)
