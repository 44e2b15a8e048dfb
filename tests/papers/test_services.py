"""Reading, watch queries and the inbox, recommendations, BibTeX."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.papers.models import InboxItem, Paper, Reading, SyncStatus, WatchQuery
from portal.papers.services import (
    accept_inbox_item,
    add_paper,
    core_progress,
    create_watch,
    dismiss_inbox_item,
    embed_papers,
    export_bibtex,
    papers_read_count,
    recommend_papers,
    run_watch_queries,
    run_watch_query,
    sync_papers,
    update_reading,
)
from tests.papers.fake_arxiv import FakeEntry, core_entries

pytestmark = pytest.mark.django_db


def _entry(arxiv_id: str, title: str, summary: str, days: int = 0, categories=None) -> FakeEntry:
    base = core_entries()[-1].published + timedelta(days=days)
    return FakeEntry(
        arxiv_id=arxiv_id,
        title=title,
        summary=summary,
        authors=["Jane Doe"],
        published=base,
        updated=base,
        categories=categories or ["cs.AR"],
    )


# --- reading ------------------------------------------------------------------------------


def test_marking_read_records_the_version_and_a_newer_one_is_noticed(
    synced_core, owner, fake_arxiv
):
    paper = Paper.objects.get(arxiv_id="2309.06180")
    reading = update_reading(user=owner, paper=paper, status="read")
    assert (reading.read_version, reading.newer_version_since_read) == (2, None)

    entries = core_entries()
    vllm = next(e for e in entries if e.arxiv_id == "2309.06180")
    vllm.version = 4
    fake_arxiv.add(*entries)
    sync_papers()

    reading.refresh_from_db()
    assert reading.newer_version_since_read == 4


def test_progress_counts_core_papers_read_against_the_goal_of_20(synced_core, owner, other_user):
    for paper in Paper.objects.core()[:3]:
        update_reading(user=owner, paper=paper, status="read")
    update_reading(user=owner, paper=Paper.objects.core()[3], status="reading")
    extra = Paper.objects.create(arxiv_id="2401.11111", title="Extra")
    update_reading(user=owner, paper=extra, status="read")
    update_reading(user=other_user, paper=Paper.objects.core()[5], status="read")

    progress = core_progress(owner)

    assert (progress.read, progress.total, progress.goal) == (3, 28, 20)
    assert progress.percent_of_goal == 15
    assert papers_read_count(owner) == 4
    assert papers_read_count(other_user) == 1


def test_unmarking_read_clears_the_read_time(core_papers, owner):
    paper = core_papers[0]
    update_reading(user=owner, paper=paper, status="read")
    reading = update_reading(user=owner, paper=paper, status="reading")
    assert (reading.read_at, reading.read_version) == (None, None)


def test_tags_are_trimmed_and_deduplicated_and_bad_ones_refused(core_papers, owner):
    reading = update_reading(user=owner, paper=core_papers[0], tags=" kernels, sram ,kernels,量化 ")
    assert reading.tags == ["kernels", "sram", "量化"]
    with pytest.raises(ValueError):
        update_reading(user=owner, paper=core_papers[0], tags=["a<b"])


def test_adding_a_paper_already_in_the_inbox_takes_it_out_of_the_inbox(fake_arxiv, owner):
    paper = Paper.objects.create(
        arxiv_id="2402.00002", title="Watched", synced_at="2024-01-01T00:00Z"
    )
    InboxItem.objects.create(user=owner, paper=paper)

    add_paper(user=owner, ref="arXiv:2402.00002")

    assert InboxItem.objects.pending().count() == 0
    assert fake_arxiv.requests == []  # already synced: no fetch


# --- watch queries --------------------------------------------------------------------------


def test_a_watch_query_puts_new_results_into_its_owners_inbox_only(
    core_papers, fake_arxiv, owner, other_user
):
    fake_arxiv.add(
        _entry("2501.00001", "An NPU for transformers", "A new accelerator for attention.", 1),
        _entry("2501.00002", "Another accelerator", "Systolic accelerator design.", 2),
        _entry("2501.00003", "Unrelated", "Graph theory.", 3, ["math.CO"]),
    )
    watch = create_watch(user=owner, name="chips", query="cat:cs.AR AND abs:accelerator")

    run = run_watch_query(watch=watch)

    assert run.status == SyncStatus.OK
    params = fake_arxiv.requests[0]
    assert params["search_query"] == "cat:cs.AR AND abs:accelerator"
    assert params["sortBy"] == "submittedDate"
    inbox = InboxItem.objects.for_user(owner).pending()
    assert [item.paper.arxiv_id for item in inbox] == ["2501.00002", "2501.00001"]
    assert InboxItem.objects.filter(user=other_user).count() == 0
    watch.refresh_from_db()
    assert (watch.last_new_count, watch.last_error) == (2, "")
    assert watch.last_success_at is not None


def test_a_second_run_adds_only_papers_the_person_has_not_seen(core_papers, fake_arxiv, owner):
    fake_arxiv.add(
        _entry("2501.00001", "One", "accelerator", 1),
        _entry("2501.00002", "Two", "accelerator", 2),
    )
    watch = create_watch(user=owner, name="chips", query="abs:accelerator")
    run_watch_query(watch=watch)
    first, second = InboxItem.objects.for_user(owner).order_by("paper__arxiv_id")
    dismiss_inbox_item(item=first)
    accept_inbox_item(item=second)
    fake_arxiv.add(_entry("2501.00003", "Three", "accelerator", 3))

    run_watch_query(watch=watch)

    pending = InboxItem.objects.for_user(owner).pending()
    assert [item.paper.arxiv_id for item in pending] == ["2501.00003"]
    assert Reading.objects.filter(
        user=owner, paper__arxiv_id="2501.00002", status="to_read"
    ).exists()


def test_a_failing_watch_query_records_its_error_and_changes_nothing(
    core_papers, fake_arxiv, owner
):
    watch = create_watch(user=owner, name="spec", query='abs:"speculative decoding"')
    fake_arxiv.statuses = [503, 503, 503]

    run = run_watch_query(watch=watch)

    assert run.status == SyncStatus.FAILED
    watch.refresh_from_db()
    assert "HTTP 503" in watch.last_error
    assert watch.last_run_at is not None and watch.last_success_at is None
    assert InboxItem.objects.count() == 0


def test_all_active_watch_queries_run_through_one_client(
    core_papers, fake_arxiv, owner, other_user
):
    fake_arxiv.add(_entry("2501.00001", "Speculative decoding on NPUs", "speculative decoding", 1))
    create_watch(user=owner, name="a", query='abs:"speculative decoding"')
    create_watch(user=other_user, name="b", query='abs:"speculative decoding"')
    paused = create_watch(user=owner, name="c", query="abs:nothing")
    WatchQuery.objects.filter(pk=paused.pk).update(is_active=False)

    runs = run_watch_queries()

    assert [run.status for run in runs] == ["ok", "ok"]
    assert InboxItem.objects.filter(user=owner).count() == 1
    assert InboxItem.objects.filter(user=other_user).count() == 1
    assert len(fake_arxiv.requests) == 2


@pytest.mark.parametrize("query", ["", "   ", 'abs:"open', "(cat:cs.AR", "cat:cs.AR)"])
def test_a_bad_watch_query_is_refused(owner, query):
    with pytest.raises(ValueError):
        create_watch(user=owner, name="x", query=query)


# --- recommendations --------------------------------------------------------------------------


def test_recommendations_rank_unread_papers_by_similarity_to_highly_rated_ones(synced_core, owner):
    assert embed_papers() == 28
    assert embed_papers() == 0  # unchanged text is not embedded again
    quant = Paper.objects.filter(domain="quantization").order_by("core_order")
    update_reading(user=owner, paper=quant[0], status="read", rating=5)
    update_reading(user=owner, paper=quant[1], status="read", rating=4)
    update_reading(user=owner, paper=quant[2], status="skipped")
    update_reading(
        user=owner, paper=Paper.objects.get(arxiv_id="1706.03762"), status="read", rating=2
    )

    recommended = recommend_papers(user=owner, limit=5)

    ids = [paper.arxiv_id for paper in recommended]
    # The three quantization papers not yet read or skipped come first.
    assert set(ids[:3]) == set(quant.values_list("arxiv_id", flat=True)[3:])
    assert not {quant[0].arxiv_id, quant[1].arxiv_id, quant[2].arxiv_id, "1706.03762"} & set(ids)
    similarities = [paper.similarity for paper in recommended]
    assert similarities == sorted(similarities, reverse=True)


def test_no_recommendations_without_highly_rated_papers(synced_core, owner):
    embed_papers()
    update_reading(user=owner, paper=synced_core[0], status="read", rating=3)
    assert recommend_papers(user=owner) == []


# --- BibTeX ------------------------------------------------------------------------------


def test_bibtex_entries_are_escaped_and_keys_unique():
    published = core_entries()[0].published
    first = Paper(
        arxiv_id="2401.00001",
        title="Fast {Attention} & 100% of_SRAM",
        authors=["Tri Dao", "Zoë Müller"],
        published=published,
        primary_category="cs.LG",
    )
    second = Paper(
        arxiv_id="2401.00002", title="Fast kernels", authors=["Tri Dao"], published=published
    )

    text = export_bibtex([first, second])

    assert "@misc{dao2017fast," in text and "@misc{dao2017fasta," in text
    assert r"title = {{Fast Attention \& 100\% of\_SRAM}}" in text
    assert "author = {Tri Dao and Zoë Müller}" in text
    assert "primaryClass = {cs.LG}" in text
    assert "url = {https://arxiv.org/abs/2401.00001}" in text
