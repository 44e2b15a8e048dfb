"""Loading the core list and syncing it: idempotence, versions, failures that change nothing."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from portal.papers.models import Domain, Paper, PaperVersion, SyncRun, SyncStatus
from portal.papers.services import load_core_papers, read_core_list, read_paper_data, sync_papers
from tests.papers.fake_arxiv import core_entries

pytestmark = pytest.mark.django_db


def test_the_core_list_has_28_papers_in_five_domains_with_the_top_priorities_marked():
    entries = read_core_list()
    assert len(entries) == 28
    assert {entry.domain for entry in entries} == set(Domain.values) - {Domain.OTHER}
    five_stars = {entry.arxiv_id for entry in entries if entry.priority == 5}
    # FlashAttention 1&2, vLLM, GPTQ, AWQ and the TPU paper are top priority.
    assert {
        "2205.14135",
        "2307.08691",
        "2309.06180",
        "2210.17323",
        "2306.00978",
        "1704.04760",
    } <= five_stars
    by_id = {entry.arxiv_id: entry for entry in entries}
    assert by_id["2205.14135"].lab_id == "kernels"
    assert by_id["2210.17323"].lab_id == "llm-quant"
    assert by_id["2309.06180"].lab_id == "llm-serving"
    assert by_id["1704.04760"].lab_id == "system-benchmark"
    # Every core paper is read somewhere in the 16 weeks (its weeks come from the readings).
    assert all(entry.weeks and all(1 <= w <= 16 for w in entry.weeks) for entry in entries)


def test_loadpapers_is_idempotent_and_offline(fake_arxiv, capsys):
    call_command("loadpapers")
    first = capsys.readouterr().out
    call_command("loadpapers")
    second = capsys.readouterr().out

    assert "28 created" in first
    assert "0 created, 0 updated, 28 unchanged" in second
    assert Paper.objects.core().count() == 28
    assert fake_arxiv.requests == []


def test_loadpapers_keeps_synced_metadata_and_applies_edits_of_the_data_file(synced_core, tmp_path):
    flash = Paper.objects.get(arxiv_id="2205.14135")
    title = flash.title
    data = tmp_path / "core.yaml"
    data.write_text(
        'attention:\n  - {arxiv_id: "2205.14135", short: "FA", priority: 4, lab: "kernels"}\n'
    )

    result = load_core_papers(path=data, weeks={"2205.14135": [10, 11]})

    flash.refresh_from_db()
    assert (result.updated, result.demoted) == (1, 27)
    assert flash.title == title
    assert (flash.priority, flash.curriculum_weeks, flash.is_core) == (4, [10, 11], True)
    assert Paper.objects.core().count() == 1


def test_weeks_in_the_data_file_are_refused_because_the_readings_are_their_one_source(tmp_path):
    data = tmp_path / "core.yaml"
    data.write_text('attention:\n  - {arxiv_id: "2205.14135", priority: 4, weeks: [11]}\n')

    with pytest.raises(ValueError, match="weeks come from the curriculum readings"):
        read_paper_data(data, weeks={})


def test_a_reading_of_a_paper_the_data_file_does_not_know_stops_loadpapers(tmp_path, monkeypatch):
    import portal.papers.services as services

    data = tmp_path / "core.yaml"
    data.write_text('attention:\n  - {arxiv_id: "2205.14135", priority: 4}\n')
    with pytest.raises(ValueError, match=r"does not know: \['2307.08691'\]"):
        load_core_papers(path=data, weeks={"2205.14135": [10], "2307.08691": [10]})
    assert not Paper.objects.exists()

    monkeypatch.setattr(services, "curriculum_reading_weeks", lambda: {"2999.00001": [3]})
    with pytest.raises(CommandError, match=r"paper data is invalid: .*\['2999.00001'\]"):
        call_command("loadpapers")
    assert not Paper.objects.exists()


def test_a_sync_stores_metadata_version_and_updated_time(synced_core):
    paper = Paper.objects.get(arxiv_id="1706.03762")
    assert paper.title.startswith("Attention Is All You Need")
    assert paper.authors == ["Author0 Surname0", "Second Author"]
    assert paper.version == 2
    assert paper.updated is not None and paper.updated > paper.published
    assert paper.abstract.startswith("We study the Transformer")
    assert paper.pdf_url.endswith("1706.03762v2")
    assert list(paper.versions.values_list("version", flat=True)) == [2]
    run = SyncRun.objects.core().first()
    assert (run.status, run.fetched, run.changed, run.missing) == (SyncStatus.OK, 28, 28, [])


def test_a_resync_with_a_newer_version_records_it(synced_core, fake_arxiv):
    entries = core_entries()
    entries[0].version = 3
    entries[0].updated = entries[0].updated.replace(year=2024)
    fake_arxiv.add(*entries)

    run = sync_papers()

    paper = Paper.objects.get(arxiv_id=entries[0].arxiv_id)
    assert (run.changed, run.new_versions) == (1, 1)
    assert paper.version == 3
    assert paper.updated.year == 2024
    assert list(paper.versions.values_list("version", flat=True)) == [3, 2]
    assert len(fake_arxiv.requests) == 1


def test_an_unknown_core_id_is_reported_as_missing(core_papers, fake_arxiv):
    fake_arxiv.add(*core_entries()[1:])

    run = sync_papers()

    assert run.status == SyncStatus.OK
    assert run.missing == ["1706.03762"]
    assert not Paper.objects.get(arxiv_id="1706.03762").is_synced


@pytest.mark.parametrize("mode", ["malformed", "empty", "http503"])
def test_a_failed_sync_changes_nothing_and_records_the_error_with_its_time(
    synced_core, fake_arxiv, mode
):
    before = {p.arxiv_id: (p.title, p.version, p.updated, p.synced_at) for p in Paper.objects.all()}
    versions = PaperVersion.objects.count()
    if mode == "http503":
        fake_arxiv.statuses = [503] * 5
    else:
        fake_arxiv.mode = mode

    run = sync_papers()

    assert run.status == SyncStatus.FAILED
    assert run.error
    assert run.finished_at is not None
    after = {p.arxiv_id: (p.title, p.version, p.updated, p.synced_at) for p in Paper.objects.all()}
    assert after == before
    assert PaperVersion.objects.count() == versions


def test_syncpapers_command_syncs_with_a_progress_bar_and_counts_requests(
    core_papers, fake_arxiv, capsys
):
    fake_arxiv.add(*core_entries())

    call_command("syncpapers", "--no-embed")

    out, err = capsys.readouterr()
    assert "papers: 28 fetched, 28 changed, 0 new versions" in out
    assert "arXiv requests: 1" in out
    assert "arXiv papers" in err and "28/28" in err  # tqdm's bar
    assert Paper.objects.core().exclude(title="").count() == 28


def test_syncpapers_command_fails_loudly_and_stores_nothing(core_papers, fake_arxiv, capsys):
    from django.core.management.base import CommandError

    fake_arxiv.mode = "malformed"

    with pytest.raises(CommandError, match="1 sync"):
        call_command("syncpapers", "--no-embed", "--no-progress")

    assert "sync failed at" in capsys.readouterr().err
    assert Paper.objects.exclude(title="").count() == 0


def test_syncpapers_refuses_a_bad_id():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not an arXiv id"):
        call_command("syncpapers", "not-an-id")


def test_other_apps_can_ask_for_a_weeks_papers_and_a_labs_papers(core_papers):
    week_10 = set(Paper.objects.for_week(10).values_list("arxiv_id", flat=True))
    kernels = set(Paper.objects.for_lab("kernels").values_list("arxiv_id", flat=True))
    # Week 10 reads FlashAttention 1-3; the online softmax is read in week 6, with the reductions.
    assert week_10 == {"2205.14135", "2307.08691", "2407.08608"}
    assert set(Paper.objects.for_week(6).values_list("arxiv_id", flat=True)) == {"1805.02867"}
    assert {"2205.14135", "2307.08691", "2407.08608", "1805.02867"} <= kernels
