"""The papers app's settings: a Django setting wins, else the environment, else the default.

| setting | default | meaning |
| --- | --- | --- |
| ARXIV_API_URL | https://export.arxiv.org/api/query | the query endpoint (a mirror or a local fake) |
| ARXIV_DELAY_SECONDS | 3.0 | spacing between two requests (arXiv's terms ask for 3 s) |
| ARXIV_TIMEOUT_SECONDS | 20.0 | connect/read timeout of one request |
| ARXIV_RETRIES | 3 | retries of a 5xx / 429 / connection error / timeout |
| ARXIV_BACKOFF_SECONDS | 5.0 | first retry waits this long, then doubles |
| PAPERS_WATCH_INTERVAL_MINUTES | 360 | how often the beat job runs watch queries |
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from portal.env import env_float, env_int, env_str


@dataclass(frozen=True)
class ArxivSettings:
    api_url: str
    delay_seconds: float
    timeout_seconds: float
    retries: int
    backoff_seconds: float


def _setting(name: str, from_env: object) -> object:
    return getattr(settings, name, from_env)


def arxiv_settings() -> ArxivSettings:
    return ArxivSettings(
        api_url=str(
            _setting(
                "ARXIV_API_URL", env_str("ARXIV_API_URL", "https://export.arxiv.org/api/query")
            )
        ),
        delay_seconds=float(_setting("ARXIV_DELAY_SECONDS", env_float("ARXIV_DELAY_SECONDS", 3.0))),
        timeout_seconds=float(
            _setting("ARXIV_TIMEOUT_SECONDS", env_float("ARXIV_TIMEOUT_SECONDS", 20.0))
        ),
        retries=int(_setting("ARXIV_RETRIES", env_int("ARXIV_RETRIES", 3))),
        backoff_seconds=float(
            _setting("ARXIV_BACKOFF_SECONDS", env_float("ARXIV_BACKOFF_SECONDS", 5.0))
        ),
    )


def watch_interval_minutes() -> int:
    return int(
        _setting("PAPERS_WATCH_INTERVAL_MINUTES", env_int("PAPERS_WATCH_INTERVAL_MINUTES", 360))
    )
