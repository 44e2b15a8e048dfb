"""Rendered pages cached per user in Redis, invalidated by every write to a table they read.

The page tests commit for real (transactional_db): a cached page must notice writes made
through a model, a queryset update (no signals), raw SQL and another process.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings

from portal.core import pagecache
from portal.core.embedded import start_redis, stop_redis
from portal.core.paths import DataLayout
from portal.curriculum.models import Item, ItemProgress
from tests.conftest import PASSWORD, ROOT, child_env

WEEK = "/curriculum/weeks/1/"


@pytest.mark.parametrize(
    ("sql", "kind", "tables"),
    [
        ('SELECT "a"."id" FROM "a" INNER JOIN "b" ON x', pagecache.READ, {"a", "b"}),
        ("WITH t AS (SELECT 1 FROM c) SELECT * FROM t", pagecache.READ, {"c", "t"}),
        ('INSERT INTO "feishu_event" ("x") VALUES (%s) ON CONFLICT DO NOTHING', "write", {"feishu_event"}),
        ('UPDATE "curriculum_itemprogress" SET "done" = true WHERE id IN (SELECT 1 FROM "z")', "write", {"curriculum_itemprogress"}),
        ('DELETE FROM "labs_run" WHERE "labs_run"."id" IN (1)', "write", {"labs_run"}),
        ("  update labs_run set status = 'x'", "write", {"labs_run"}),
        ("SAVEPOINT s1", pagecache.OTHER, set()),
        ("RELEASE SAVEPOINT s1", pagecache.OTHER, set()),
        ("SET TIME ZONE 'UTC'", pagecache.OTHER, set()),
        ('TRUNCATE "a", "b"', pagecache.UNKNOWN, set()),
        ('ALTER TABLE "a" ADD COLUMN b int', pagecache.UNKNOWN, set()),
        ('WITH d AS (DELETE FROM "a" RETURNING *) SELECT * FROM d', pagecache.UNKNOWN, set()),
    ],
)  # fmt: skip
def test_statements_are_classified_by_what_they_do_to_data(sql, kind, tables) -> None:
    assert pagecache.classify(sql) == (kind, frozenset(tables))


@pytest.fixture
def learner(transactional_db, django_user_model):
    from django.core.management import call_command

    call_command("loadcurriculum", verbosity=0)
    return django_user_model.objects.create_user("cached", "c@example.com", PASSWORD)


@pytest.fixture
def browser_client(learner) -> Client:
    client = Client()
    client.force_login(learner)
    client.get("/dashboard/")  # the CSRF cookie, as a browser has it after its first page
    return client


def _get(client: Client, path: str = WEEK) -> tuple[str, str]:
    response = client.get(path)
    assert response.status_code == 200
    return response["X-Page-Cache"], response.content.decode()


def _page(body: str) -> str:
    """The page with its CSRF tokens (masked afresh on every response) left out."""
    return re.sub(r"[A-Za-z0-9]{64}", "<token>", body)


def _week_count(body: str) -> str:
    return re.search(r'id="week-count">([^<]+)<', body).group(1)


def _first_task(learner) -> Item:
    return Item.objects.filter(week__number=1, kind="task").order_by("order", "pk").first()


def test_a_page_is_served_from_the_cache_until_any_write_to_a_table_it_read(
    learner, browser_client
) -> None:
    state, first = _get(browser_client)
    assert state == "miss"
    state, again = _get(browser_client)
    assert (state, _page(again)) == ("hit", _page(first))
    before = _week_count(first)
    item = _first_task(learner)

    # A write through the page's own form (a model save in a transaction).
    response = browser_client.post(f"/curriculum/items/{item.pk}/toggle/", {"done": "on"})
    assert response.status_code == 302
    state, body = _get(browser_client)
    assert state == "miss"
    after_toggle = _week_count(body)
    assert after_toggle != before
    assert _get(browser_client)[0] == "hit"

    # A queryset update sends no signal; the statement itself is seen.
    ItemProgress.objects.filter(user=learner, item=item).update(done=False)
    state, body = _get(browser_client)
    assert (state, _week_count(body)) == ("miss", before)

    # Raw SQL.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE curriculum_itemprogress SET done = true WHERE user_id = %s", [learner.pk]
        )
    state, body = _get(browser_client)
    assert (state, _week_count(body)) == ("miss", after_toggle)
    assert _get(browser_client)[0] == "hit"

    # Another process (a worker, a management command) writing the same table.
    script = (
        "from portal.curriculum.models import ItemProgress as P; "
        f"P.objects.filter(user_id={learner.pk}).update(done=False)"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT, env=child_env(), check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    state, body = _get(browser_client)
    assert (state, _week_count(body)) == ("miss", before)


def test_a_write_to_a_table_the_page_did_not_read_keeps_it(learner, browser_client) -> None:
    from portal.feishu.models import FeishuBinding, FeishuEvent

    _get(browser_client)
    FeishuBinding.objects.create(user=learner, open_id="ou_x")  # not on the week page
    assert _get(browser_client)[0] == "hit"
    # A Feishu delivery's row bumps nothing at all (unwatched: the acknowledgement path).
    assert FeishuEvent._meta.db_table in pagecache.UNWATCHED
    client = cache._cache.get_client(write=True)
    versions = client.hgetall(pagecache._key(pagecache.VERSIONS_KEY))
    FeishuEvent.objects.create(event_id="e-1", event_type="im.message.receive_v1", payload={})
    assert client.hgetall(pagecache._key(pagecache.VERSIONS_KEY)) == versions
    assert _get(browser_client)[0] == "hit"
    pagecache.send_epoch()
    assert _get(browser_client)[0] == "miss"


def test_each_user_and_language_has_its_own_page(learner, browser_client, django_user_model):
    other = django_user_model.objects.create_user("someone", "s@example.com", PASSWORD)
    other_client = Client()
    other_client.force_login(other)
    _get(browser_client, "/dashboard/")
    state, body = _get(other_client, "/dashboard/")
    assert state == "miss"
    assert "someone" in body and "cached" not in body
    assert _get(other_client, "/dashboard/")[0] == "hit"  # rendering it writes nothing it reads

    english = Client()
    english.force_login(learner)
    english.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    state, body = _get(english, "/dashboard/")
    assert state == "miss"
    assert 'lang="en"' in body


def test_a_flash_message_is_shown_once_and_never_cached(learner, browser_client) -> None:
    _get(browser_client, "/dashboard/")
    response = browser_client.post("/curriculum/start/", {"start_date": "2026-11-30"})
    assert response.status_code == 302
    response = browser_client.get(response["Location"])
    assert response["X-Page-Cache"] == "bypass"
    assert 'class="messages"' in response.content.decode()
    for _ in range(2):
        state, body = _get(browser_client, response.wsgi_request.path)
        assert state in {"miss", "hit"}
        assert 'class="messages"' not in body


def test_a_cached_page_carries_the_viewers_current_csrf_token(learner) -> None:
    from django.middleware.csrf import _unmask_cipher_token

    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    assert _get(client)[0] == "miss"  # no CSRF cookie yet: rendered with a new one, and kept

    def tokens(body: str) -> list[str]:
        found = re.findall(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"', body)
        assert found
        return found

    state, body = _get(client)
    assert state == "hit"
    secret = client.cookies[settings.CSRF_COOKIE_NAME].value
    assert all(_unmask_cipher_token(t) == secret for t in tokens(body))

    client.cookies[settings.CSRF_COOKIE_NAME] = "n" * 32  # a new secret, as after a sign-in
    state, body = _get(client)
    assert state == "hit"
    assert all(_unmask_cipher_token(t) == "n" * 32 for t in tokens(body))
    item = _first_task(learner)
    response = client.post(
        f"/curriculum/items/{item.pk}/toggle/",
        {"done": "on", "csrfmiddlewaretoken": tokens(body)[0]},
    )
    assert response.status_code == 302  # the token of the cached page is accepted


def test_inside_a_transaction_nothing_is_cached(learner, browser_client) -> None:
    from django.db import transaction

    with transaction.atomic():
        assert browser_client.get(WEEK)["X-Page-Cache"] == "bypass"
        assert browser_client.get(WEEK)["X-Page-Cache"] == "bypass"


def test_pages_of_other_users_stay_invisible(learner, browser_client, django_user_model):
    """Sharing a cache never lets a run page answer a user it would refuse."""
    from portal.labs.models import Run

    run = Run.objects.create(
        owner=learner, lab_id="pipeline-check", params={}, queue="cpu", status="succeeded",
        time_limit_s=60, soft_time_limit_s=50,
    )  # fmt: skip
    path = f"/labs/runs/{run.pk}/"
    assert _get(browser_client, path)[0] == "miss"
    assert _get(browser_client, path)[0] == "hit"
    stranger = django_user_model.objects.create_user("stranger", "x@example.com", PASSWORD)
    client = Client()
    client.force_login(stranger)
    client.get("/dashboard/")
    assert client.get(path).status_code == 404


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of this test's own, so that stopping it leaves the session's alone."""
    layout = DataLayout(tmp_path / "data")
    start_redis(layout)
    caches = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": f"unix://{layout.redis_socket}",
        }
    }
    with override_settings(CACHES=caches):
        yield layout
        stop_redis(layout)


def test_a_write_while_redis_is_down_is_not_hidden_by_a_page_cached_before(
    learner, browser_client, private_redis
) -> None:
    state, body = _get(browser_client)
    state, again = _get(browser_client)
    assert (state, _page(again)) == ("hit", _page(body))
    before = _week_count(body)

    stop_redis(private_redis)
    item = _first_task(learner)
    browser_client.post(f"/curriculum/items/{item.pk}/toggle/", {"done": "on"})
    state, body = _get(browser_client)
    assert state == "bypass"  # rendered afresh without Redis
    changed = _week_count(body)
    assert changed != before

    start_redis(private_redis)
    client = cache._cache.get_client(write=True)
    stale = list(client.scan_iter(match="*" + pagecache.ENTRY_PREFIX + "*"))
    assert stale, "the page cached before the write should be back from the AOF"
    deadline = time.monotonic() + 10
    while pagecache._pending and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pagecache._pending, "the failed version bump was never sent"
    state, body = _get(browser_client)
    assert (state, _week_count(body)) == ("miss", changed)


def test_a_page_built_from_a_process_copy_of_the_plan_still_depends_on_its_tables(
    learner, browser_client
) -> None:
    from portal.curriculum.models import Phase

    _get(browser_client, "/curriculum/")
    _get(browser_client, "/curriculum/")  # the plan now comes from this process's copy
    assert _get(browser_client, "/curriculum/")[0] == "hit"
    phase = Phase.objects.get(number=3)
    phase.title = "重新命名的第三阶段"
    phase.save()
    state, body = _get(browser_client, "/curriculum/")
    assert state == "miss"
    assert "重新命名的第三阶段" in body


def test_live_parts_are_rendered_afresh_in_a_cached_page(learner, browser_client, settings):
    """The Labs page's workers (a hole) and a queued run's "waiting for a worker" (a vary)
    follow the workers' heartbeats in Redis, which no table version sees."""
    from portal.core.health import beat, forget
    from portal.labs.models import Run
    from portal.labs.workers import _CACHE_KEY

    settings.PORTAL_QUEUE_ROUTES = {"cpu": "cpu", "gpu": "gpu-vendor-x", "any": "cpu"}
    run = Run.objects.create(
        owner=learner, lab_id="pipeline-check", params={}, queue="gpu-vendor-x",
        status="queued", time_limit_s=60, soft_time_limit_s=50,
    )  # fmt: skip
    run_page = f"/labs/runs/{run.pk}/"
    cache.delete(_CACHE_KEY)
    for path in ("/labs/", "/labs/", run_page):
        _get(browser_client, path)
    state, labs = _get(browser_client, "/labs/")
    assert state == "hit" and "ghost@pagecache-test" not in labs
    assert 'id="run-waiting" class="notice" >' in _get(browser_client, run_page)[1]

    beat("ghost@pagecache-test", ["gpu-vendor-x"])
    try:
        cache.delete(_CACHE_KEY)
        state, labs = _get(browser_client, "/labs/")
        assert state == "hit" and "ghost@pagecache-test" in labs
        polled = browser_client.get("/labs/", headers={"HX-Request": "true"})
        assert "ghost@pagecache-test" in polled.content.decode()
        assert polled["X-Page-Cache"] == "bypass"  # the poll is all live data
        state, page = _get(browser_client, run_page)
        assert 'id="run-waiting" class="notice" hidden' in page
    finally:
        forget("ghost@pagecache-test")
        cache.delete(_CACHE_KEY)
    state, labs = _get(browser_client, "/labs/")
    assert state == "hit" and "ghost@pagecache-test" not in labs


def test_invalidate_pages_renders_every_page_afresh(learner, browser_client) -> None:
    from django.core.management import call_command

    _get(browser_client)
    assert _get(browser_client)[0] == "hit"
    call_command("invalidate_pages", verbosity=0)
    assert _get(browser_client)[0] == "miss"


def test_a_page_reading_an_unwatched_table_is_never_stored(learner) -> None:
    from django.http import HttpResponse as Page
    from django.test import RequestFactory

    from portal.feishu.models import FeishuEvent

    @pagecache.cached_page
    def events_page(request):
        return Page(f"<p>{FeishuEvent.objects.count()} events</p>", content_type="text/html")

    def get() -> Page:
        request = RequestFactory().get("/events-page/")
        request.user = learner
        return events_page(request)

    assert get()["X-Page-Cache"] == "miss"
    FeishuEvent.objects.create(event_id="e-2", event_type="im.message.receive_v1", payload={})
    response = get()
    assert (response["X-Page-Cache"], response.content) == ("miss", b"<p>1 events</p>")
