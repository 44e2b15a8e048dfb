"""The cross-user matrix: a second ordinary user, pointed at the first user's objects through
every API route (read from /api/openapi.json) and every HTML view that takes an id, gets a
404 (or 403), never sees the first user's data, and changes nothing in the database.

Routes are discovered, not listed: a new route is covered the day it is added. A route whose
path parameter this file cannot fill fails the test with the route's name: add the parameter
to OWNED_PARAMS (it names one user's object) or the route to SHARED_ROUTES (its parameter names
something every user may address, such as a lab slug, a curriculum week or a paper, with the
reason); an HTML view goes to OWNED_VIEWS or SHARED_VIEWS the same way.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from portal.core.services import issue_api_token

pytestmark = pytest.mark.django_db

SECRET = "owner-secret-5b1f9c"  # in the owner's objects; never in the other user's answers

# A response that says "no such thing" (or "not yours") without acting.
DENIED = {HTTPStatus.NOT_FOUND, HTTPStatus.FORBIDDEN}
# An HTML view also refuses the wrong method without looking anything up.
DENIED_HTML = DENIED | {HTTPStatus.METHOD_NOT_ALLOWED}

# Fields every request may touch (sign-in and token bookkeeping), and tables of sessions.
VOLATILE_FIELDS = {"last_login", "last_used_at"}
# hal.workerhost: a live Celery worker's heartbeat (another test's session worker) bumps its
# seen_at, or re-reports its row after a flush, every two seconds, whatever the request did.
VOLATILE_MODELS = {
    "sessions.session",
    "admin.logentry",
    "contenttypes.contenttype",
    "hal.workerhost",
}


@dataclass
class World:
    """The owner's objects of every kind, each carrying SECRET where it has text."""

    owner: User
    run: Any
    llm_run: Any
    artifact: Any
    deployment: Any
    sweep: Any
    peak: Any
    review: Any
    progress: Any
    paper: Any
    reading: Any
    watch: Any
    inbox_item: Any
    watch_sync: Any
    document: Any
    conversation: Any
    binding: Any
    notification: Any
    token: Any
    curriculum_item: Any
    submission: Any


# --- how to fill a path parameter -------------------------------------------------------------
# Parameter name -> the owner's object it names (the API spells them {run_id}, {doc_id}, ...).
# Add new routes' parameters here (e.g. /api/kb/... by the knowledge base, submissions).
OWNED_PARAMS: dict[str, Callable[[World], Any]] = {
    "run_id": lambda w: [w.run.pk, w.deployment.pk],  # a list: each is tried
    "sweep_id": lambda w: w.sweep.pk,
    "doc_id": lambda w: w.document.pk,
    "document_id": lambda w: w.document.pk,
    "watch_id": lambda w: w.watch.pk,
    "item_id": lambda w: w.inbox_item.pk,  # /api/papers/inbox/...; curriculum items are shared
    "peak_id": lambda w: w.peak.pk,
    "conversation_id": lambda w: w.conversation.pk,
    "token_id": lambda w: w.token.pk,
    "submission_id": lambda w: w.submission.pk,
}

# Routes whose parameters name something every user may address: answered for the asker's
# own state (their progress on a shared item, their review of week N) or shared data.
# Path template -> (reason, fillers). They must still leak nothing and change nothing of the
# owner's.
SHARED_ROUTES: dict[str, tuple[str, dict[str, Callable[[World], Any]]]] = {
    "/api/curriculum/items/{item_id}": (
        "the curriculum is shared; the asker's own progress changes",
        {"item_id": lambda w: w.curriculum_item.pk},
    ),
    "/api/curriculum/reviews/{week}": (
        "a week number: the asker's own review",
        {"week": lambda w: 1},
    ),
    "/api/curriculum/reviews/{week}.md": ("the asker's own review", {"week": lambda w: 1}),
    "/api/papers/{arxiv_id}": (
        "the paper catalog is shared; reading state is the asker's",
        {"arxiv_id": lambda w: w.paper.arxiv_id},
    ),
    "/api/papers/{arxiv_id}/status": (
        "the asker's own reading status",
        {"arxiv_id": lambda w: w.paper.arxiv_id},
    ),
    "/api/papers/sync/{sync_id}": (
        "catalog syncs are shared; a watch's sync is never shown",
        {"sync_id": lambda w: w.watch_sync.pk},
    ),
    "/api/labs/{lab_id}/runs": (
        "a lab slug: launches the asker's own run",
        {"lab_id": lambda w: "pipeline-check"},
    ),
    "/api/hal/devices/{key}": ("devices of the portal's hosts", {"key": lambda w: "cpu:0"}),
    "/api/hal/devices/{key}/telemetry": (
        "devices of the portal's hosts",
        {"key": lambda w: "cpu:0"},
    ),
}

# HTML views that take an id: url name -> the owner's object as the view's kwargs.
OWNED_VIEWS: dict[str, Callable[[World], dict[str, Any]]] = {
    "labs:run": lambda w: {"pk": w.run.pk},
    "labs:run_cancel": lambda w: {"pk": w.run.pk},
    "labs:run_artifact": lambda w: {"pk": w.run.pk, "name": w.artifact.name},
    "labs:llm:report": lambda w: {"pk": w.llm_run.pk},
    "papers:inbox_accept": lambda w: {"pk": w.inbox_item.pk},
    "papers:inbox_dismiss": lambda w: {"pk": w.inbox_item.pk},
    "papers:watch_delete": lambda w: {"pk": w.watch.pk},
    "papers:watch_run": lambda w: {"pk": w.watch.pk},
    "knowledge:document": lambda w: {"pk": w.document.pk},
    "knowledge:delete": lambda w: {"pk": w.document.pk},
    "token_revoke": lambda w: {"pk": w.token.pk},
    "kernels:submission": lambda w: {"pk": w.submission.pk},
}
# Staff-only views that take an id: every other user, the object's owner included, gets 404.
STAFF_VIEWS: dict[str, Callable[[World], dict[str, Any]]] = {
    "kernels:review_submission": lambda w: {"pk": w.submission.pk},
}
SHARED_VIEWS: dict[str, tuple[str, Callable[[World], dict[str, Any]]]] = {
    "curriculum:week": ("a curriculum week", lambda w: {"number": 1}),
    "curriculum:toggle": (
        "the asker's progress on a shared item",
        lambda w: {"pk": w.curriculum_item.pk},
    ),
    "curriculum:review": ("the asker's own review of week N", lambda w: {"number": 1}),
    "curriculum:review_md": ("the asker's own review of week N", lambda w: {"number": 1}),
    "papers:detail": ("a paper of the shared catalog", lambda w: {"arxiv_id": w.paper.arxiv_id}),
    "papers:reading": ("the asker's own reading", lambda w: {"arxiv_id": w.paper.arxiv_id}),
    "labs:lab": ("a lab slug", lambda w: {"lab_id": "pipeline-check"}),
    "section_placeholder": ("a section name", lambda w: {"section": "labs"}),
}
# Views outside the matrix, with the reason.
SKIPPED_PREFIXES = {
    "admin/": "Django admin: staff only (an ordinary user is sent to its login)",
    "api/": "the API: walked from /api/openapi.json",
}


# --- the owner's world ------------------------------------------------------------------------


def _make_world(owner: User) -> World:
    from portal.curriculum.models import Item, ItemProgress, Phase, Week, WeeklyReview
    from portal.feishu.models import Conversation, FeishuBinding, Notification, Turn
    from portal.knowledge.models import Document, Source
    from portal.labs.hal.models import MeasuredPeak
    from portal.labs.kernels.models import Measurement, Submission, Sweep
    from portal.labs.models import EventKind, Run, RunArtifact, RunStatus
    from portal.labs.services import NewEvent, append_events
    from portal.papers.models import InboxItem, Paper, Reading, SyncRun, WatchQuery

    def run(lab_id: str, status: str, **extra: Any) -> Run:
        return Run.objects.create(
            owner=owner,
            lab_id=lab_id,
            params={"note": SECRET},
            status=status,
            queue="cpu",
            time_limit_s=600,
            soft_time_limit_s=500,
            result={"summary": SECRET},
            **extra,
        )

    lab_run = run("pipeline-check", RunStatus.RUNNING, started_at=timezone.now())
    now = timezone.now()
    append_events(
        lab_run.pk,
        [
            NewEvent(EventKind.LOG, {"text": SECRET}, now),
            NewEvent(EventKind.METRIC, {"name": "loss", "value": 1.0, "step": 0}, now),
        ],
    )
    artifact_dir = lab_run.artifact_dir()
    artifact_dir.mkdir(parents=True, exist_ok=True)
    (artifact_dir / "secret.txt").write_text(SECRET)
    artifact = RunArtifact.objects.create(
        run=lab_run, name="secret.txt", path=str(artifact_dir / "secret.txt"), size=len(SECRET)
    )
    llm_run = run("llm-quant", RunStatus.FAILED)
    Run.objects.filter(pk=llm_run.pk).update(result=None)  # the report page without a report
    deployment = run("llm-deploy", RunStatus.RUNNING, heartbeat_at=now, started_at=now)
    append_events(
        deployment.pk,
        [
            NewEvent(
                EventKind.TABLE,
                {
                    "name": "deployment",
                    "rows": [{"state": "serving", "url": "http://127.0.0.1:9/v1"}],
                },
                now,
            )
        ],
    )
    sweep = Sweep.objects.create(run=lab_run, device="cpu", device_name=SECRET)
    Measurement.objects.create(
        sweep=sweep, seq=0, kernel="softmax", impl="eager", dtype="float32", n=8, status="ok",
        data={"note": SECRET},
    )  # fmt: skip
    peak = MeasuredPeak.objects.create(
        model="Test CPU", device_key="cpu:0", fp32_tflops=1.0, note=SECRET, owner=owner
    )

    phase = Phase.objects.filter(number=1).first() or Phase.objects.create(
        slug="p1", number=1, title="P", focus="f", project="p", milestone="m",
        first_week=1, last_week=1,
    )  # fmt: skip
    week = Week.objects.filter(number=1).first() or Week.objects.create(
        number=1, phase=phase, title="W"
    )
    curriculum_item = Item.objects.filter(week=week).first() or Item.objects.create(
        slug="matrix-item", kind="task", week=week, title="T"
    )
    progress = ItemProgress.objects.create(user=owner, item=curriculum_item, done=True)
    review = WeeklyReview.objects.create(
        user=owner, week=1, completed=[SECRET], hours_theory=Decimal("1.5")
    )

    paper = Paper.objects.create(arxiv_id="2401.00001", title="A shared paper")
    reading = Reading.objects.create(user=owner, paper=paper, notes=SECRET)
    watch = WatchQuery.objects.create(user=owner, name=SECRET, query="cat:cs.AR")
    inbox_item = InboxItem.objects.create(user=owner, paper=paper, watch=watch)
    watch_sync = SyncRun.objects.create(kind="watch", requested_by=owner, watch=watch)

    document = Document.objects.create(
        owner=owner,
        source=Source.UPLOAD,
        source_key=f"upload:{SECRET}",
        title=SECRET,
        content=SECRET,
        content_hash="0" * 64,
    )
    conversation = Conversation.objects.create(chat_id="oc_owner", user=owner)
    Turn.objects.create(conversation=conversation, role="user", content=SECRET)
    binding = FeishuBinding.objects.create(user=owner, open_id="ou_owner", webhook_secret=SECRET)
    notification = Notification.objects.create(user=owner, text=SECRET)
    token, _raw = issue_api_token(user=owner, name=SECRET)

    submission = Submission.objects.create(
        owner=owner, problem="softmax", dtype="float32", language="pytorch",
        source=f"# {SECRET}\ndef custom_kernel(data):\n    return data[0].softmax(-1)\n",
        run=lab_run, verdict="passed", score_ms=1.0, result={"message": SECRET},
    )  # fmt: skip
    return World(
        owner=owner, run=lab_run, llm_run=llm_run, artifact=artifact, deployment=deployment, sweep=sweep,
        peak=peak, review=review, progress=progress, paper=paper, reading=reading, watch=watch,
        inbox_item=inbox_item, watch_sync=watch_sync, document=document,
        conversation=conversation, binding=binding, notification=notification, token=token,
        curriculum_item=curriculum_item, submission=submission,
    )  # fmt: skip


# --- the database, before and after ------------------------------------------------------------


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else value  # pgvector arrays


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table, but the sign-in bookkeeping."""
    state: dict[str, list[tuple]] = {}
    for model in apps.get_models():
        label = model._meta.label_lower
        if label in VOLATILE_MODELS or model._meta.proxy or not model._meta.managed:
            continue
        fields = [
            f.attname for f in model._meta.concrete_fields if f.attname not in VOLATILE_FIELDS
        ]
        rows = model._default_manager.order_by("pk").values_list(*fields)
        state[label] = [tuple(_plain(v) for v in row) for row in rows]
    return state


def owner_rows(state: dict[str, list[tuple]], owner_id: int) -> dict[str, list[tuple]]:
    """The rows of `state` that name the owner in a user column (their own data)."""
    picked: dict[str, list[tuple]] = {}
    for label, rows in state.items():
        model = apps.get_model(label)
        fields = [f for f in model._meta.concrete_fields if f.attname not in VOLATILE_FIELDS]
        user_cols = [
            i
            for i, f in enumerate(fields)
            if f.is_relation
            and f.related_model is not None
            and f.related_model._meta.label_lower == "auth.user"
        ]
        if user_cols:
            picked[label] = [row for row in rows if any(row[i] == owner_id for i in user_cols)]
    return picked


def changed(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> list[str]:
    return sorted(
        label for label in before.keys() | after.keys() if before.get(label) != after.get(label)
    )


# --- the routes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # the OpenAPI template, e.g. /api/runs/{run_id}
    params: tuple[str, ...]
    body: dict[str, Any] | None


def _example(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """The smallest value the schema accepts, for request bodies (so a route reaches its lookup
    instead of answering 422)."""
    if "$ref" in schema:
        return _example(components[schema["$ref"].rsplit("/", 1)[1]], components)
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return _example(schema[key][0], components)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: _example(props[name], components) for name in schema.get("required", [])}
    return {"string": "x", "integer": 1, "number": 1.0, "boolean": True, "array": []}.get(kind)


def api_routes(client: Client) -> list[Route]:
    spec = client.get("/api/openapi.json").json()
    components = spec.get("components", {}).get("schemas", {})
    routes = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            params = tuple(p["name"] for p in operation.get("parameters", []) if p["in"] == "path")
            content = operation.get("requestBody", {}).get("content", {})
            body = None
            if "application/json" in content:
                body = _example(content["application/json"]["schema"], components)
            routes.append(Route(method.upper(), path, params, body))
    return routes


def _walk(
    patterns: list[Any], prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern) and entry.name:
            yield prefix + str(entry.pattern), namespace + entry.name, entry


def html_views_with_ids() -> list[tuple[str, str]]:
    """(route, url name) of every HTML view whose URL takes a parameter."""
    return [
        (route, name)
        for route, name, pattern in _walk(get_resolver().url_patterns)
        if pattern.pattern.regex.groups and not route.startswith(tuple(SKIPPED_PREFIXES))
    ]


def unfillable(route: Route) -> list[str]:
    """The path parameters of `route` this file has no filler for."""
    fillers = SHARED_ROUTES[route.path][1] if route.path in SHARED_ROUTES else OWNED_PARAMS
    return [p for p in route.params if p not in fillers]


def _fill(template: str, fillers: dict[str, Callable[[World], Any]], world: World) -> list[str]:
    """Every URL of `template` with its parameters filled (a filler may give several values)."""
    names = re.findall(r"\{(\w+)\}", template)
    choices = [
        value if isinstance(value, list) else [value]
        for value in (fillers[name](world) for name in names)
    ]
    urls = []
    for combination in itertools.product(*choices):
        values = dict(zip(names, combination, strict=True))
        urls.append(re.sub(r"\{(\w+)\}", lambda m, v=values: str(v[m.group(1)]), template))
    return urls


def _call(client: Client, method: str, url: str, body: Any) -> Any:
    kwargs: dict[str, Any] = {}
    if body is not None:
        kwargs = {"data": body, "content_type": "application/json"}
    return getattr(client, method.lower())(url, **kwargs)


# --- the tests ------------------------------------------------------------------------------------


@pytest.fixture
def no_task_queue(monkeypatch) -> None:
    """Whatever a request would enqueue stays off the (shared) broker."""
    from celery.app.task import Task

    monkeypatch.setattr(Task, "apply_async", lambda self, *args, **kwargs: None)


@pytest.fixture
def world(owner, settings, tmp_path) -> World:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return _make_world(owner)


def _bearer(user: User) -> Client:
    return Client(
        headers={"Authorization": f"Bearer {issue_api_token(user=user, name='matrix')[1]}"}
    )


def test_every_api_route_with_an_id_refuses_another_users_objects_and_changes_nothing(
    world, other_user, no_task_queue
):
    owner_api, other_api = _bearer(world.owner), _bearer(other_user)
    problems: list[str] = []
    checked = 0
    for route in api_routes(other_api):
        if not route.params:
            continue
        missing = unfillable(route)
        if missing:
            problems.append(
                f"{route.method} {route.path}: cannot fill {missing}; add the parameter to "
                "OWNED_PARAMS (an owner's object) or the route to SHARED_ROUTES (with why)"
            )
            continue
        expect_denied = route.path not in SHARED_ROUTES
        fillers = OWNED_PARAMS if expect_denied else SHARED_ROUTES[route.path][1]
        for url in _fill(route.path, fillers, world):
            if expect_denied and route.method == "GET":
                # the filler names a real object: its owner can read it
                mine = owner_api.get(url)
                assert mine.status_code == HTTPStatus.OK, f"owner GET {url}: {mine.status_code}"
            before = snapshot()
            response = _call(other_api, route.method, url, route.body)
            after = snapshot()
            where = f"{route.method} {url} ({route.path})"
            checked += 1
            if response.status_code >= 500:
                problems.append(f"{where}: {response.status_code}")
            if expect_denied and response.status_code not in DENIED:
                problems.append(f"{where}: answered {response.status_code}, not 404/403")
            if SECRET in response.content.decode(errors="replace"):
                problems.append(f"{where}: the answer holds the owner's data")
            if expect_denied and changed(before, after):
                problems.append(f"{where}: changed {changed(before, after)}")
            if not expect_denied and changed(
                owner_rows(before, world.owner.pk), owner_rows(after, world.owner.pk)
            ):
                problems.append(f"{where}: changed the owner's rows")
    assert not problems, "\n".join(problems)
    assert checked >= 15  # the walk found the routes


def test_every_api_list_answers_another_user_without_the_owners_objects(world, other_user):
    other_api = _bearer(other_user)
    leaks = []
    for route in api_routes(other_api):
        if route.method != "GET" or route.params:
            continue
        response = other_api.get(route.path)
        if response.status_code >= 500 or SECRET in response.content.decode(errors="replace"):
            leaks.append(f"GET {route.path}: {response.status_code}")
    assert not leaks, "\n".join(leaks)
    # and the owner does see them: the secrets are where a leak would show
    owner_api = _bearer(world.owner)
    for path in ("/api/runs", "/api/kernels/sweeps", "/api/papers/watches", "/api/hal/peaks"):
        assert SECRET in owner_api.get(path, follow=True).content.decode(), path


def test_every_html_view_with_an_id_refuses_another_users_objects_and_changes_nothing(
    world, other_user, no_task_queue
):
    owner_client, other = Client(), Client()
    owner_client.force_login(world.owner)
    other.force_login(other_user)
    problems: list[str] = []
    for route, name in html_views_with_ids():
        if name in SHARED_VIEWS:
            url, expect_denied = reverse(name, kwargs=SHARED_VIEWS[name][1](world)), False
        elif name in OWNED_VIEWS:
            url, expect_denied = reverse(name, kwargs=OWNED_VIEWS[name](world)), True
        elif name in STAFF_VIEWS:
            url, expect_denied = reverse(name, kwargs=STAFF_VIEWS[name](world)), True
            assert owner_client.get(url).status_code == HTTPStatus.NOT_FOUND, url
        else:
            problems.append(
                f"{route} ({name}): add it to OWNED_VIEWS (an owner's object), STAFF_VIEWS "
                "or SHARED_VIEWS"
            )
            continue
        for method in ("GET", "POST"):
            if expect_denied and method == "GET" and name not in STAFF_VIEWS:
                mine = owner_client.get(url)
                if mine.status_code == HTTPStatus.OK:
                    pass  # a readable object; POST-only views answer 405 to their owner too
                elif mine.status_code != HTTPStatus.METHOD_NOT_ALLOWED:
                    problems.append(f"owner GET {url}: {mine.status_code} (a wrong filler?)")
            before = snapshot()
            response = _call(other, method, url, None)
            after = snapshot()
            where = f"{method} {url} ({name})"
            body = b"" if response.streaming else response.content
            if response.status_code >= 500:
                problems.append(f"{where}: {response.status_code}")
            if expect_denied and response.status_code not in DENIED_HTML:
                problems.append(f"{where}: answered {response.status_code}, not 404/403/405")
            if SECRET.encode() in body:
                problems.append(f"{where}: the page holds the owner's data")
            if expect_denied and changed(before, after):
                problems.append(f"{where}: changed {changed(before, after)}")
            if not expect_denied and changed(
                owner_rows(before, world.owner.pk), owner_rows(after, world.owner.pk)
            ):
                problems.append(f"{where}: changed the owner's rows")
    assert not problems, "\n".join(problems)


def test_a_route_the_matrix_cannot_fill_is_reported_by_name():
    """The guard itself: a new route's unknown parameter is reported, not silently skipped."""
    assert unfillable(Route("GET", "/api/new/{gadget_id}", ("gadget_id",), None)) == ["gadget_id"]
    assert unfillable(Route("GET", "/api/runs/{run_id}", ("run_id",), None)) == []
    assert unfillable(Route("GET", "/api/hal/devices/{key}", ("key",), None)) == []
