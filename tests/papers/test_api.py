"""/api/papers/: anonymous, other user, wrong method, bad input, and the happy paths."""

from __future__ import annotations

import json
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from portal.papers.models import InboxItem, Paper, Reading, SyncRun, WatchQuery
from tests.conftest import tasks_on_commit
from tests.papers.fake_arxiv import FakeEntry, core_entries

pytestmark = pytest.mark.django_db

LIST = "/api/papers"


def _put_status(client: Client, arxiv_id: str, body: dict) -> object:
    return client.put(
        f"/api/papers/{arxiv_id}/status", data=json.dumps(body), content_type="application/json"
    )


def _post(client: Client, url: str, body: dict | None = None) -> object:
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def test_the_list_url_is_the_documented_one():
    assert reverse("api:list_papers") == LIST


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", LIST),
        ("post", LIST),
        ("get", "/api/papers/1706.03762"),
        ("put", "/api/papers/1706.03762/status"),
        ("post", "/api/papers/sync"),
        ("get", "/api/papers/inbox"),
        ("get", "/api/papers/watches"),
        ("get", "/api/papers/recommendations"),
        ("get", "/api/papers/export.bib"),
        ("get", "/api/papers/progress"),
    ],
)
def test_anonymous_requests_are_refused(core_papers, method, url):
    response = getattr(Client(), method)(url, content_type="application/json")
    assert response.status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("delete", LIST),
        ("post", "/api/papers/1706.03762"),
        ("get", "/api/papers/1706.03762/status"),
        ("get", "/api/papers/sync"),
        ("put", "/api/papers/watches"),
    ],
)
def test_wrong_methods_are_405(api, core_papers, method, url):
    assert getattr(api, method)(url).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_the_list_filters_by_domain_status_and_text_and_pages(api, synced_core, owner):
    Reading.objects.create(
        user=owner, paper=Paper.objects.get(arxiv_id="2210.17323"), status="read"
    )

    everything = api.get(LIST, {"limit": 5}).json()
    quant = api.get(LIST, {"domain": "quantization", "limit": 50}).json()
    read = api.get(LIST, {"status": "read"}).json()
    to_read = api.get(LIST, {"status": "to_read", "limit": 100}).json()
    text = api.get(LIST, {"q": "systolic matrix"}).json()
    second_page = api.get(LIST, {"limit": 5, "offset": 5}).json()

    assert everything["count"] == 28 and len(everything["items"]) == 5
    assert everything["items"][0]["arxiv_id"] == "1706.03762"
    assert {item["arxiv_id"] for item in second_page["items"]}.isdisjoint(
        {item["arxiv_id"] for item in everything["items"]}
    )
    assert quant["count"] == 6 and {i["domain"] for i in quant["items"]} == {"quantization"}
    assert [i["arxiv_id"] for i in read["items"]] == ["2210.17323"]
    assert read["items"][0]["status"] == "read"
    assert to_read["count"] == 27
    assert {i["arxiv_id"] for i in text["items"]} == {"1704.04760", "2304.01433", "1802.04799"}


@pytest.mark.parametrize(
    "params",
    [{"domain": "cooking"}, {"status": "done"}, {"limit": -1}, {"offset": "x"}, {"priority": 9}],
)
def test_bad_filters_are_422_not_500(api, core_papers, params):
    assert api.get(LIST, params).status_code == HTTPStatus.UNPROCESSABLE_ENTITY


def test_put_status_sets_status_rating_notes_and_tags(api, synced_core, owner):
    response = _put_status(
        api,
        "2307.08691",
        {
            "status": "read",
            "rating": 5,
            "notes": "# Tiling\nQ K V blocks",
            "tags": ["kernels", "sram"],
        },
    )

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["reading"]["status"] == "read"
    assert body["reading"]["read_version"] == 2
    reading = Reading.objects.get(user=owner, paper__arxiv_id="2307.08691")
    assert (reading.status, reading.rating, reading.tags) == ("read", 5, ["kernels", "sram"])
    assert reading.notes.startswith("# Tiling")
    assert reading.read_at is not None


def test_put_status_leaves_out_fields_untouched_and_null_clears_the_rating(api, synced_core, owner):
    _put_status(api, "2307.08691", {"status": "reading", "rating": 4, "notes": "keep me"})
    _put_status(api, "2307.08691", {"status": "read"})
    reading = Reading.objects.get(user=owner, paper__arxiv_id="2307.08691")
    assert (reading.status, reading.rating, reading.notes) == ("read", 4, "keep me")

    _put_status(api, "2307.08691", {"status": "read", "rating": None})
    reading.refresh_from_db()
    assert reading.rating is None


@pytest.mark.parametrize(
    "body",
    [
        {"status": "finished"},
        {"status": "read", "rating": 6},
        {"status": "read", "rating": 0},
        {"rating": 3},
        {"status": "read", "tags": "not-a-list"},
    ],
)
def test_put_status_with_bad_input_is_422(api, core_papers, body):
    assert _put_status(api, "1706.03762", body).status_code == HTTPStatus.UNPROCESSABLE_ENTITY


def test_a_bad_tag_is_400_with_a_message(api, core_papers):
    response = _put_status(api, "1706.03762", {"status": "read", "tags": ["<script>"]})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "'<script>'" in response.json()["detail"]


def test_put_status_on_a_paper_outside_your_library_is_404(api, core_papers, other_user):
    theirs = Paper.objects.create(arxiv_id="2401.00001", title="Theirs")
    Reading.objects.create(user=other_user, paper=theirs, notes="private")

    assert _put_status(api, "2401.00001", {"status": "read"}).status_code == HTTPStatus.NOT_FOUND
    assert api.get("/api/papers/2401.00001").status_code == HTTPStatus.NOT_FOUND
    assert not Reading.objects.filter(paper=theirs).exclude(user=other_user).exists()


def test_another_users_reading_is_not_visible(api, synced_core, other_user):
    Reading.objects.create(
        user=other_user,
        paper=Paper.objects.get(arxiv_id="1706.03762"),
        status="read",
        notes="secret",
    )

    body = api.get("/api/papers/1706.03762").json()

    assert body["status"] == "to_read"
    assert body["reading"] is None
    assert api.get(LIST, {"status": "read"}).json()["count"] == 0


def test_post_adds_a_paper_by_id_or_url_fetching_it_from_arxiv(api, owner, fake_arxiv):
    entry = FakeEntry(
        arxiv_id="2404.12345",
        title="A new kernel paper",
        summary="Tiles.",
        authors=["Ada L"],
        published=core_entries()[0].published,
        updated=core_entries()[0].updated,
        version=3,
    )
    fake_arxiv.add(entry)

    created = _post(api, LIST, {"arxiv_id": "https://arxiv.org/abs/2404.12345v2"})
    again = _post(api, LIST, {"arxiv_id": "2404.12345"})

    assert created.status_code == HTTPStatus.CREATED
    assert created.json()["title"] == "A new kernel paper"
    assert created.json()["version"] == 3
    assert again.status_code == HTTPStatus.OK
    assert Reading.objects.filter(user=owner, paper__arxiv_id="2404.12345").count() == 1
    assert len(fake_arxiv.requests) == 1  # the second add did not fetch again


def test_post_with_an_unknown_id_is_404_and_stores_nothing(api, fake_arxiv):
    response = _post(api, LIST, {"arxiv_id": "2499.99999"})

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "2499.99999" in response.json()["detail"]
    assert not Paper.objects.filter(arxiv_id="2499.99999").exists()


def test_post_when_arxiv_fails_is_502_with_the_reason(api, fake_arxiv):
    fake_arxiv.mode = "malformed"

    response = _post(api, LIST, {"arxiv_id": "2404.12345"})

    assert response.status_code == HTTPStatus.BAD_GATEWAY
    assert "malformed" in response.json()["detail"]
    assert not Paper.objects.filter(arxiv_id="2404.12345").exists()


@pytest.mark.parametrize(
    "body", [{"arxiv_id": "not an id"}, {"arxiv_id": "https://example.com/abs/1706.03762"}]
)
def test_post_with_a_bad_reference_is_400(api, fake_arxiv, body):
    response = _post(api, LIST, body)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert fake_arxiv.requests == []


def test_post_without_a_body_is_422(api):
    assert api.post(LIST, data="{", content_type="application/json").status_code in (
        HTTPStatus.BAD_REQUEST,
        HTTPStatus.UNPROCESSABLE_ENTITY,
    )


def test_post_sync_queues_one_run_and_refuses_a_second_while_it_is_queued(
    api, core_papers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = _post(api, "/api/papers/sync")
        second = _post(api, "/api/papers/sync")

    assert first.status_code == HTTPStatus.ACCEPTED
    assert first.json()["status"] == "queued"
    assert second.status_code == HTTPStatus.CONFLICT
    assert SyncRun.objects.count() == 1
    assert len(tasks_on_commit(callbacks)) == 1  # one task enqueued on commit
    assert api.get(f"/api/papers/sync/{first.json()['id']}").json()["status"] == "queued"
    assert api.get("/api/papers/sync/999999").status_code == HTTPStatus.NOT_FOUND


def test_session_clients_need_csrf_for_writes(owner, core_papers):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = _put_status(client, "1706.03762", {"status": "read"})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert not Reading.objects.exists()


def test_watches_are_private_and_validated(api, owner, other_user):
    theirs = WatchQuery.objects.create(user=other_user, name="x", query="abs:x")

    created = _post(
        api, "/api/papers/watches", {"name": "spec", "query": 'abs:"speculative decoding"'}
    )
    duplicate = _post(api, "/api/papers/watches", {"query": 'abs:"speculative decoding"'})
    unbalanced = _post(api, "/api/papers/watches", {"query": 'abs:"oops'})
    too_many = _post(api, "/api/papers/watches", {"query": "abs:x", "max_results": 1000})
    listed = api.get("/api/papers/watches").json()
    delete_theirs = api.delete(f"/api/papers/watches/{theirs.pk}")
    delete_mine = api.delete(f"/api/papers/watches/{created.json()['id']}")

    assert created.status_code == HTTPStatus.CREATED
    assert duplicate.status_code == HTTPStatus.BAD_REQUEST
    # Messages follow the interface language (Chinese unless the person chose English).
    assert unbalanced.status_code == HTTPStatus.BAD_REQUEST
    assert unbalanced.json()["detail"] == "检索式的引号不成对。"
    assert too_many.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert [w["name"] for w in listed] == ["spec"]
    assert delete_theirs.status_code == HTTPStatus.NOT_FOUND
    assert delete_mine.status_code == HTTPStatus.NO_CONTENT
    assert WatchQuery.objects.filter(pk=theirs.pk).exists()


def test_inbox_items_are_private(api, owner, other_user):
    paper = Paper.objects.create(arxiv_id="2402.00002", title="Found by a watch")
    mine = InboxItem.objects.create(user=owner, paper=paper)
    theirs = InboxItem.objects.create(user=other_user, paper=paper)

    listed = api.get("/api/papers/inbox").json()
    accept_theirs = _post(api, f"/api/papers/inbox/{theirs.pk}/accept")
    accept_mine = _post(api, f"/api/papers/inbox/{mine.pk}/accept")

    assert [item["id"] for item in listed] == [mine.pk]
    assert accept_theirs.status_code == HTTPStatus.NOT_FOUND
    assert accept_mine.status_code == HTTPStatus.OK
    assert Reading.objects.filter(user=owner, paper=paper).exists()
    assert not Reading.objects.filter(user=other_user).exists()
    theirs.refresh_from_db()
    assert theirs.dismissed_at is None


def test_progress_and_bibtex_export(api, synced_core, owner):
    for arxiv_id in ["2205.14135", "2307.08691"]:
        _put_status(api, arxiv_id, {"status": "read"})

    progress = api.get("/api/papers/progress").json()
    bib = api.get("/api/papers/export.bib", {"ids": ["2205.14135", "2307.08691"]})

    assert progress == {"read": 2, "total": 28, "goal": 20, "papers_read": 2}
    text = bib.content.decode()
    assert text.count("@misc{") == 2
    assert "eprint = {2307.08691}" in text
    assert "archivePrefix = {arXiv}" in text
