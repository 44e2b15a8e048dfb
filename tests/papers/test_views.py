"""The papers pages: access, filters, htmx partials, forms, and the failed-sync notice."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from portal.papers.models import (
    InboxItem,
    Paper,
    Reading,
    SyncKind,
    SyncRun,
    SyncStatus,
    WatchQuery,
)
from portal.papers.services import sync_papers, update_reading
from tests.conftest import tasks_on_commit
from tests.papers.fake_arxiv import core_entries

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("papers:index", []),
        ("papers:detail", ["1706.03762"]),
        ("papers:inbox", []),
        ("papers:watches", []),
        ("papers:recommendations", []),
        ("papers:export", []),
        ("papers:sync_status", []),
    ],
)
def test_pages_need_a_login(core_papers, name, args):
    response = Client().get(reverse(name, args=args))
    assert response.status_code == HTTPStatus.FOUND
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("papers:add", []),
        ("papers:sync", []),
        ("papers:reading", ["1706.03762"]),
        ("papers:inbox_accept", [1]),
        ("papers:watch_delete", [1]),
        ("papers:watch_run", [1]),
    ],
)
def test_actions_are_post_only(owner_client, core_papers, name, args):
    assert owner_client.get(reverse(name, args=args)).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_the_library_shows_progress_and_the_core_list(owner_client, synced_core, owner):
    update_reading(user=owner, paper=Paper.objects.get(arxiv_id="2205.14135"), status="read")

    owner_client.post(reverse("set_language"), {"language": "en"})
    response = owner_client.get(reverse("papers:index"))

    html = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "Read 1 of 28 core, goal 20" in html
    assert html.count('data-arxiv-id="') == 28
    assert "FlashAttention-2" in html


def test_the_library_says_read_n_of_28_core_goal_20_in_chinese_and_english(
    owner_client, core_papers, owner
):
    update_reading(user=owner, paper=core_papers[0], status="read")

    chinese = owner_client.get(reverse("papers:index")).content.decode()
    owner_client.post(reverse("set_language"), {"language": "en"})
    english = owner_client.get(reverse("papers:index")).content.decode()

    assert "Read 1 of 28 core, goal 20" in english
    assert "已读 1 / 28 篇核心论文，目标 20" in chinese


def test_filters_narrow_the_list_and_htmx_gets_only_the_list(owner_client, synced_core):
    response = owner_client.get(
        reverse("papers:index"), {"domain": "chips"}, **HTMX, HTTP_HX_TARGET="paper-list"
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<form id="paper-list"')
    assert "<html" not in html
    assert html.count('data-arxiv-id="') == 3


def test_full_text_search_matches_title_and_abstract_with_stemming(owner_client, synced_core):
    html = owner_client.get(reverse("papers:index"), {"q": "quantizing weights"}).content.decode()
    assert html.count('data-arxiv-id="') == 6


def test_an_invalid_filter_shows_the_whole_library_instead_of_failing(owner_client, core_papers):
    response = owner_client.get(reverse("papers:index"), {"domain": "cooking", "priority": "x"})
    assert response.status_code == HTTPStatus.OK
    assert response.content.decode().count('data-arxiv-id="') == 28


def test_a_failed_sync_is_shown_with_its_error_and_time(owner_client, synced_core, fake_arxiv):
    fake_arxiv.mode = "malformed"
    run = sync_papers()
    assert run.status == SyncStatus.FAILED

    html = owner_client.get(reverse("papers:index")).content.decode()

    assert "sync-error" in html
    assert "malformed XML" in html
    assert run.finished_at.astimezone().strftime("%Y") in html
    # The papers from the earlier successful sync are still there.
    assert "FlashAttention-2: a attention paper" in html


def test_sync_button_queues_a_run_and_htmx_gets_the_polling_status(
    owner_client, core_papers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = owner_client.post(reverse("papers:sync"), **HTMX)

    html = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert 'id="sync-status"' in html and 'hx-trigger="every 3s"' in html
    assert SyncRun.objects.get().status == SyncStatus.QUEUED
    assert len(tasks_on_commit(callbacks)) == 1


def test_the_detail_page_shows_the_paper_links_weeks_lab_and_versions(owner_client, synced_core):
    html = owner_client.get(reverse("papers:detail", args=["2210.17323"])).content.decode()

    assert "GPTQ: a quantization paper" in html
    assert "https://arxiv.org/abs/2210.17323" in html
    assert "http://arxiv.org/pdf/2210.17323v2" in html
    assert "llm-quant" in html
    assert ">v2<" in html
    assert "Author" in html


def test_saving_the_reading_form_with_htmx_returns_the_partial(owner_client, synced_core, owner):
    response = owner_client.post(
        reverse("papers:reading", args=["2306.00978"]),
        {
            "status": "read",
            "rating": "5",
            "tags": "quant, awq",
            "notes": "**salient** channels <script>x</script>",
        },
        **HTMX,
    )

    html = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert html.lstrip().startswith('<div id="reading"')
    assert "<strong>salient</strong>" in html
    assert "<script>x" not in html
    reading = Reading.objects.get(user=owner, paper__arxiv_id="2306.00978")
    assert (reading.status, reading.rating, reading.tags) == ("read", 5, ["quant", "awq"])


def test_the_reading_form_without_js_redirects_and_bad_input_is_400(
    owner_client, core_papers, owner
):
    ok = owner_client.post(reverse("papers:reading", args=["1706.03762"]), {"status": "reading"})
    bad = owner_client.post(
        reverse("papers:reading", args=["1706.03762"]), {"status": "done", "rating": "9"}
    )

    assert ok.status_code == HTTPStatus.FOUND
    assert bad.status_code == HTTPStatus.BAD_REQUEST
    assert Reading.objects.get(user=owner).status == "reading"


def test_another_users_added_paper_is_hidden(owner_client, other_user):
    paper = Paper.objects.create(arxiv_id="2401.00001", title="Theirs")
    Reading.objects.create(user=other_user, paper=paper)

    assert (
        owner_client.get(reverse("papers:detail", args=["2401.00001"])).status_code
        == HTTPStatus.NOT_FOUND
    )
    response = owner_client.post(reverse("papers:reading", args=["2401.00001"]), {"status": "read"})
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert not Reading.objects.exclude(user=other_user).exists()


def test_adding_a_paper_by_url_fetches_it_and_opens_its_page(owner_client, owner, fake_arxiv):
    fake_arxiv.add(*core_entries()[:1])

    response = owner_client.post(
        reverse("papers:add"), {"ref": "https://arxiv.org/abs/1706.03762v5"}
    )

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("papers:detail", args=["1706.03762"])
    assert Reading.objects.filter(user=owner, paper__arxiv_id="1706.03762").exists()


@pytest.mark.parametrize(
    ("ref", "mode", "status"),
    [
        ("nonsense", "", HTTPStatus.BAD_REQUEST),
        ("2499.99999", "", HTTPStatus.NOT_FOUND),
        ("2404.00001", "empty", HTTPStatus.BAD_GATEWAY),
    ],
)
def test_adding_a_paper_that_cannot_be_added_says_why(owner_client, fake_arxiv, ref, mode, status):
    fake_arxiv.mode = mode
    response = owner_client.post(reverse("papers:add"), {"ref": ref})
    assert response.status_code == status
    assert 'class="errorlist' in response.content.decode()
    assert not Reading.objects.exists()


def test_watch_queries_page_creates_and_deletes_and_shows_errors(owner_client, owner, other_user):
    theirs = WatchQuery.objects.create(user=other_user, name="theirs", query="abs:x")

    created = owner_client.post(
        reverse("papers:watches"),
        {"name": "spec", "query": 'abs:"speculative decoding"', "max_results": 10},
    )
    bad = owner_client.post(
        reverse("papers:watches"), {"name": "bad", "query": 'abs:"open', "max_results": 10}
    )
    watch = WatchQuery.objects.get(user=owner)
    WatchQuery.objects.filter(pk=watch.pk).update(
        last_error="arXiv answered HTTP 503", last_run_at="2026-01-02T03:04:05Z"
    )
    page = owner_client.get(reverse("papers:watches")).content.decode()
    delete_theirs = owner_client.post(reverse("papers:watch_delete", args=[theirs.pk]))

    assert created.status_code == HTTPStatus.FOUND
    assert bad.status_code == HTTPStatus.BAD_REQUEST
    assert "arXiv answered HTTP 503" in page and "theirs" not in page
    assert delete_theirs.status_code == HTTPStatus.NOT_FOUND
    assert (
        owner_client.post(reverse("papers:watch_delete", args=[watch.pk])).status_code
        == HTTPStatus.FOUND
    )
    assert not WatchQuery.objects.filter(user=owner).exists()


def test_the_inbox_accepts_and_dismisses_only_your_items(owner_client, owner, other_user):
    paper = Paper.objects.create(arxiv_id="2402.00002", title="Found by a watch")
    other = Paper.objects.create(arxiv_id="2402.00003", title="Also found")
    mine = InboxItem.objects.create(user=owner, paper=paper)
    mine2 = InboxItem.objects.create(user=owner, paper=other)
    theirs = InboxItem.objects.create(user=other_user, paper=paper)

    page = owner_client.get(reverse("papers:inbox")).content.decode()
    assert "Found by a watch" in page and "Also found" in page
    assert (
        owner_client.post(reverse("papers:inbox_accept", args=[theirs.pk])).status_code
        == HTTPStatus.NOT_FOUND
    )
    assert owner_client.post(reverse("papers:inbox_accept", args=[mine.pk]), **HTMX).content == b""
    assert (
        owner_client.post(reverse("papers:inbox_dismiss", args=[mine2.pk])).status_code
        == HTTPStatus.FOUND
    )

    assert Reading.objects.filter(user=owner, paper=paper).exists()
    assert not Reading.objects.filter(user=owner, paper=other).exists()
    assert InboxItem.objects.for_user(owner).pending().count() == 0
    # A paper in your inbox is visible to you even though it is not in your library.
    assert (
        owner_client.get(reverse("papers:detail", args=["2402.00002"])).status_code == HTTPStatus.OK
    )


def test_export_downloads_the_selection_as_bibtex(owner_client, synced_core):
    response = owner_client.get(reverse("papers:export"), {"ids": ["2205.14135", "2309.06180"]})

    assert response["Content-Type"].startswith("application/x-bibtex")
    assert 'filename="papers.bib"' in response["Content-Disposition"]
    text = response.content.decode()
    assert text.count("@misc{") == 2 and "eprint = {2309.06180}" in text


def test_export_without_a_selection_exports_the_filtered_library(owner_client, synced_core):
    text = owner_client.get(reverse("papers:export"), {"domain": "chips"}).content.decode()
    assert text.count("@misc{") == 3


def test_the_dashboard_shows_the_papers_panel(owner_client, core_papers, owner):
    update_reading(user=owner, paper=core_papers[0], status="read")
    owner_client.post(reverse("set_language"), {"language": "en"})

    html = owner_client.get(reverse("dashboard")).content.decode()

    assert "Read 1 of 28 core, goal 20" in html


def test_a_sync_run_in_progress_makes_the_status_poll(owner_client, core_papers):
    SyncRun.objects.create(kind=SyncKind.CORE, status=SyncStatus.RUNNING)
    html = owner_client.get(reverse("papers:sync_status")).content.decode()
    assert 'hx-trigger="every 3s"' in html


def test_the_status_poll_reloads_the_page_when_the_sync_has_finished(owner_client, core_papers):
    SyncRun.objects.create(kind=SyncKind.CORE, status=SyncStatus.OK)
    response = owner_client.get(reverse("papers:sync_status"), {"was": "running"}, **HTMX)
    assert response["HX-Refresh"] == "true"
