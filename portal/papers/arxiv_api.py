"""Talking to arXiv through the `arxiv` package, made strict.

The library pages results and builds `arxiv.Result`s; this module adds what it
lacks for a sync that must never store a half-truth:

- a request timeout on its `requests` session (the library sets none);
- retries of 5xx / 429 / connection errors / timeouts with exponential backoff
  (the library retries at once), keeping arXiv's spacing between requests;
- an empty body, unparseable XML, a document that is not an arXiv Atom feed,
  an entry the library would silently skip, or an arXiv error entry raise
  `ArxivError` (the library only logs a warning and returns no results).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import arxiv
import requests
from arxiv import _feed
from lxml import etree

from portal.papers.conf import ArxivSettings, arxiv_settings

logger = logging.getLogger(__name__)

ATOM = "{http://www.w3.org/2005/Atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
USER_AGENT = "ai-chip-prep-portal (arxiv.py)"

# New-style ids (0704.0001 onwards, 4 or 5 digits after the dot) and old-style
# ids (hep-th/9901001, math.GT/0309136), each with an optional version.
_ID_PATTERN = r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v(?P<version>\d+))?"
_ID_RE = re.compile(rf"^{_ID_PATTERN}$")
_REF_RE = re.compile(
    rf"^(?:arxiv:\s*|(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/)?"
    rf"{_ID_PATTERN}(?:\.pdf)?/?$",
    re.IGNORECASE,
)
ARXIV_ID_URL_REGEX = r"\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}"


class ArxivError(Exception):
    """arXiv could not give a trustworthy answer; nothing should be stored from this attempt."""


class _Transient(ArxivError):
    """A failure worth retrying (5xx, 429, connection trouble, timeout)."""


def parse_arxiv_ref(text: str) -> tuple[str, int | None]:
    """Return (arXiv id without version, version or None) from an id, `arXiv:` ref or arxiv.org URL.

    Raises ValueError for anything else.
    """
    cleaned = (text or "").strip()
    match = _REF_RE.match(cleaned)
    if not match:
        raise ValueError(f"not an arXiv id or arxiv.org URL: {cleaned[:100]!r}")
    version = match.group("version")
    return match.group("id"), int(version) if version else None


def is_arxiv_id(text: str) -> bool:
    return bool(_ID_RE.match(text or ""))


@dataclass(frozen=True)
class ArxivRecord:
    arxiv_id: str
    version: int | None
    title: str
    authors: list[str]
    abstract: str
    published: datetime
    updated: datetime
    primary_category: str
    categories: list[str]
    pdf_url: str
    comment: str
    journal_ref: str
    doi: str

    @classmethod
    def from_result(cls, result: arxiv.Result) -> ArxivRecord:
        arxiv_id, version = parse_arxiv_ref(result.get_short_id())
        return cls(
            arxiv_id=arxiv_id,
            version=version,
            title=" ".join(result.title.split()),
            authors=[author.name for author in result.authors],
            abstract=" ".join((result.summary or "").split()),
            published=result.published,
            updated=result.updated,
            primary_category=result.primary_category or "",
            categories=list(result.categories),
            pdf_url=result.pdf_url or "",
            comment=result.comment or "",
            journal_ref=result.journal_ref or "",
            doi=result.doi or "",
        )


class _TimeoutSession(requests.Session):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(*args, **kwargs)


class ArxivClient(arxiv.Client):
    """`arxiv.Client` with a timeout, backoff retries and strict feed checks; see the module doc."""

    def __init__(self, config: ArxivSettings | None = None, *, page_size: int = 100) -> None:
        config = config or arxiv_settings()
        # num_retries=0: retries happen in `_parse_feed` below, with backoff.
        super().__init__(page_size=page_size, delay_seconds=config.delay_seconds, num_retries=0)
        self.query_url_format = config.api_url.rstrip("?") + "?{}"
        self._session = _TimeoutSession(config.timeout_seconds)
        self.retries = max(0, config.retries)
        self.backoff_seconds = max(0.0, config.backoff_seconds)
        self.requests_made = 0
        self._last_request_at: float | None = None

    def _parse_feed(
        self, url: str, first_page: bool = True, _try_index: int = 0
    ) -> _feed.ParsedFeed:
        for attempt in range(self.retries + 1):
            try:
                return self._fetch_page(url, first_page=first_page)
            except _Transient as err:
                if attempt == self.retries:
                    raise ArxivError(
                        f"{err} (gave up after {attempt + 1} attempt{'s' if attempt else ''})"
                    ) from err
                wait = self.backoff_seconds * (2**attempt)
                logger.info("arXiv: %s; retrying in %.1f s", err, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _wait_for_spacing(self) -> None:
        if self._last_request_at is None:
            return
        remaining = self.delay_seconds - (time.monotonic() - self._last_request_at)
        if remaining > 0:
            time.sleep(remaining)

    def _fetch_page(self, url: str, *, first_page: bool) -> _feed.ParsedFeed:
        self._wait_for_spacing()
        self.requests_made += 1
        try:
            response = self._session.get(url, headers={"user-agent": USER_AGENT})
        except requests.Timeout as exc:
            raise _Transient(f"arXiv did not answer within {self._session.timeout:g} s") from exc
        except requests.ConnectionError as exc:
            raise _Transient(f"could not connect to arXiv: {exc.__class__.__name__}") from exc
        finally:
            self._last_request_at = time.monotonic()
        status = response.status_code
        if status >= 500 or status == 429:
            raise _Transient(f"arXiv answered HTTP {status}")
        if status != 200:
            raise ArxivError(f"arXiv answered HTTP {status}")
        feed = parse_feed_strictly(response.content)
        if not feed.results and not first_page:
            raise _Transient("arXiv returned an empty page in the middle of the results")
        return feed


def parse_feed_strictly(content: bytes) -> _feed.ParsedFeed:
    """Parse one arXiv API answer with the library's parser, refusing anything doubtful."""
    if not content or not content.strip():
        raise ArxivError("arXiv answered with an empty body")
    try:
        root = etree.fromstring(
            content, parser=etree.XMLParser(resolve_entities=False, no_network=True)
        )
    except etree.XMLSyntaxError as exc:
        raise ArxivError(f"arXiv answered with malformed XML: {exc}") from exc
    if root.tag != f"{ATOM}feed" or root.find(f"{OPENSEARCH}totalResults") is None:
        raise ArxivError("arXiv's answer is not an arXiv Atom feed")
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        entry_id = entry.findtext(f"{ATOM}id") or ""
        if "/api/errors" in entry_id:
            summary = " ".join((entry.findtext(f"{ATOM}summary") or "").split())
            raise ArxivError(f"arXiv rejected the query: {summary or entry_id}")
    feed = _feed.parse(content)
    if feed.malformed:
        raise ArxivError(f"arXiv answered with a malformed feed: {feed.error}")
    if len(feed.results) != len(entries):
        raise ArxivError(
            f"arXiv's answer has {len(entries) - len(feed.results)} entries without id or dates"
        )
    return feed


def fetch_by_ids(
    arxiv_ids: Iterable[str],
    *,
    client: ArxivClient | None = None,
    on_record: Callable[[ArxivRecord], None] | None = None,
) -> dict[str, ArxivRecord]:
    """Fetch papers by id in one `id_list` query (the library pages it when long).

    Ids arXiv does not know are simply absent from the answer.
    """
    ids = sorted(set(arxiv_ids))
    if not ids:
        return {}
    client = client or ArxivClient()
    search = arxiv.Search(id_list=ids, max_results=len(ids))
    records: dict[str, ArxivRecord] = {}
    with _page_size_at_most(client, len(ids)):
        for result in client.results(search):
            record = ArxivRecord.from_result(result)
            records[record.arxiv_id] = record
            if on_record is not None:
                on_record(record)
    return records


def search_arxiv(
    query: str, *, max_results: int, client: ArxivClient | None = None
) -> list[ArxivRecord]:
    """The newest `max_results` submissions matching an arXiv search query."""
    client = client or ArxivClient()
    search = arxiv.Search(
        query=query,
        max_results=max_results,
        sort_by=arxiv.SortCriterion.SubmittedDate,
        sort_order=arxiv.SortOrder.Descending,
    )
    with _page_size_at_most(client, max_results):
        return [ArxivRecord.from_result(result) for result in client.results(search)]


@contextmanager
def _page_size_at_most(client: ArxivClient, size: int) -> Iterator[None]:
    """Ask for no more rows per page than wanted (the client's page size is the default 100)."""
    saved = client.page_size
    client.page_size = max(1, min(saved, size))
    try:
        yield
    finally:
        client.page_size = saved
