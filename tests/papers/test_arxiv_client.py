"""The real `arxiv` client against the fake arXiv: batching, paging, retries, strictness."""

from __future__ import annotations

import time

import arxiv
import pytest

from portal.papers.arxiv_api import (
    ArxivClient,
    ArxivError,
    fetch_by_ids,
    parse_arxiv_ref,
    search_arxiv,
)
from portal.papers.conf import arxiv_settings
from tests.papers.fake_arxiv import FakeEntry, core_entries

pytestmark = pytest.mark.django_db


def test_the_whole_core_list_is_fetched_in_one_id_list_request(fake_arxiv):
    entries = core_entries()
    fake_arxiv.add(*entries)

    records = fetch_by_ids([entry.arxiv_id for entry in entries])

    assert len(fake_arxiv.requests) == 1
    assert len(fake_arxiv.requests[0]["id_list"].split(",")) == 28
    assert set(records) == {entry.arxiv_id for entry in entries}
    flash2 = records["2307.08691"]
    assert flash2.version == 2
    assert flash2.title.startswith("FlashAttention-2")
    assert flash2.authors[0].startswith("Author")
    assert flash2.pdf_url == "http://arxiv.org/pdf/2307.08691v2"
    assert flash2.updated > flash2.published


def test_a_long_id_list_is_paged_by_the_library_and_every_paper_arrives_once(fake_arxiv):
    entries = core_entries()
    fake_arxiv.add(*entries)
    client = ArxivClient(arxiv_settings(), page_size=10)

    records = fetch_by_ids([entry.arxiv_id for entry in entries], client=client)

    assert len(records) == 28
    assert [request["start"] for request in fake_arxiv.requests] == ["0", "10", "20"]
    assert client.page_size == 10


def test_a_search_pages_through_start_and_max_results(fake_arxiv):
    fake_arxiv.add(*core_entries())
    client = ArxivClient(arxiv_settings())

    records = search_arxiv("abs:quantize", max_results=6, client=client)

    assert len(records) == 6
    # One request asking for no more rows than wanted; the client keeps its own page size.
    assert [request["max_results"] for request in fake_arxiv.requests] == ["6"]
    assert client.page_size == 100
    # Newest submissions first.
    assert [r.published for r in records] == sorted((r.published for r in records), reverse=True)


def test_results_spread_over_several_pages_are_all_collected(fake_arxiv):
    fake_arxiv.add(*core_entries())
    client = ArxivClient(arxiv_settings(), page_size=4)
    results = list(client.results(arxiv.Search(query="abs:quantize", max_results=None)))

    assert len(results) == 6
    assert [request["start"] for request in fake_arxiv.requests] == ["0", "4"]


def test_an_unknown_id_is_absent_rather_than_an_error(fake_arxiv):
    fake_arxiv.add(*core_entries()[:1])

    records = fetch_by_ids(["1706.03762", "2999.99999"])

    assert list(records) == ["1706.03762"]


def test_a_503_is_retried_with_backoff_then_succeeds(fake_arxiv, settings):
    fake_arxiv.add(*core_entries()[:2])
    fake_arxiv.statuses = [503]
    settings.ARXIV_BACKOFF_SECONDS = 0.2

    started = time.monotonic()
    records = fetch_by_ids(["1706.03762", "1810.04805"])

    assert len(records) == 2
    assert len(fake_arxiv.requests) == 2
    assert time.monotonic() - started >= 0.2


def test_persistent_5xx_gives_up_after_the_configured_retries(fake_arxiv, settings):
    settings.ARXIV_RETRIES = 2
    fake_arxiv.statuses = [503, 502, 500, 503]

    with pytest.raises(ArxivError, match=r"HTTP 500 \(gave up after 3 attempts\)"):
        fetch_by_ids(["1706.03762"])
    assert len(fake_arxiv.requests) == 3


def test_a_4xx_is_not_retried(fake_arxiv):
    fake_arxiv.statuses = [400]

    with pytest.raises(ArxivError, match="HTTP 400"):
        fetch_by_ids(["1706.03762"])
    assert len(fake_arxiv.requests) == 1


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("malformed", "malformed XML"),
        ("empty", "empty body"),
        ("not_atom", "not an arXiv Atom feed"),
    ],
)
def test_a_malformed_or_empty_answer_is_an_error_not_zero_papers(fake_arxiv, mode, message):
    fake_arxiv.add(*core_entries())
    fake_arxiv.mode = mode

    with pytest.raises(ArxivError, match=message):
        fetch_by_ids(["1706.03762"])
    with pytest.raises(ArxivError, match=message):
        search_arxiv("abs:attention", max_results=5)


def test_a_slow_arxiv_hits_the_request_timeout(fake_arxiv, settings):
    settings.ARXIV_TIMEOUT_SECONDS = 0.3
    settings.ARXIV_RETRIES = 0
    fake_arxiv.mode = "slow"
    fake_arxiv.slow_seconds = 1.5

    started = time.monotonic()
    with pytest.raises(ArxivError, match="did not answer within 0.3 s"):
        fetch_by_ids(["1706.03762"])
    assert time.monotonic() - started < 1.4


def test_requests_are_spaced_by_the_configured_delay(fake_arxiv, settings):
    settings.ARXIV_DELAY_SECONDS = 0.3
    fake_arxiv.add(*core_entries())
    client = ArxivClient()

    started = time.monotonic()
    search_arxiv("abs:attention", max_results=3, client=client)
    search_arxiv("abs:quantize", max_results=3, client=client)

    assert len(fake_arxiv.requests) == 2
    assert time.monotonic() - started >= 0.3


def test_an_entry_without_dates_makes_the_answer_malformed(fake_arxiv):
    entry = FakeEntry(
        arxiv_id="2401.00001",
        title="t",
        summary="s",
        authors=["A B"],
        published=core_entries()[0].published,
        updated=core_entries()[0].updated,
    )
    fake_arxiv.add(entry)
    original = entry.to_xml

    entry.to_xml = lambda: original().replace(  # type: ignore[method-assign]
        f"<updated>{entry.updated:%Y-%m-%dT%H:%M:%SZ}</updated>", ""
    )
    with pytest.raises(ArxivError, match="without id or dates"):
        fetch_by_ids(["2401.00001"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2307.08691", ("2307.08691", None)),
        ("2307.08691v3", ("2307.08691", 3)),
        ("arXiv:1706.03762", ("1706.03762", None)),
        ("https://arxiv.org/abs/1706.03762v7", ("1706.03762", 7)),
        ("https://arxiv.org/pdf/2205.14135.pdf", ("2205.14135", None)),
        ("http://export.arxiv.org/abs/hep-th/9901001v2", ("hep-th/9901001", 2)),
        ("  math.GT/0309136 ", ("math.GT/0309136", None)),
    ],
)
def test_arxiv_references_are_parsed_from_ids_and_urls(text, expected):
    assert parse_arxiv_ref(text) == expected


@pytest.mark.parametrize(
    "text", ["", "17.06.03762", "https://example.com/abs/1706.03762", "1706.03762; DROP", "abc"]
)
def test_anything_else_is_refused(text):
    with pytest.raises(ValueError):
        parse_arxiv_ref(text)
