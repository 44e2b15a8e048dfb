"""One spelling for every API route: no trailing slash, each route mounted once, and the
other spelling answers the same resource or a JSON 404 (never a 500, never HTML)."""

from __future__ import annotations

import json
import re
from http import HTTPStatus

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug(settings):  # noqa: ANN001, ANN201
    """DEBUG on, as under `make run`, where APPEND_SLASH raised its RuntimeError."""
    settings.DEBUG = True
    return settings


def _openapi_paths(api) -> dict[str, dict]:  # noqa: ANN001
    return api.get("/api/openapi.json").json()["paths"]


def test_no_route_in_the_schema_ends_with_a_slash(api):
    paths = _openapi_paths(api)
    assert paths
    assert [p for p in paths if p.endswith("/")] == []


def test_each_operation_is_mounted_once(api):
    paths = _openapi_paths(api)
    # The same operation under two prefixes shows up as one tail served twice.
    shapes: dict[tuple[str, str], list[str]] = {}
    for path, operations in paths.items():
        for method in operations:
            tail = re.sub(r"^/api/(labs/)?", "", path)
            shapes.setdefault((method, tail), []).append(path)
    assert {k: v for k, v in shapes.items() if len(v) > 1} == {}
    assert not [p for p in paths if p.startswith("/api/labs/runs")]


def test_post_api_papers_in_either_spelling_reaches_the_route_not_a_500(debug, api):
    for url in ("/api/papers", "/api/papers/"):
        response = api.post(
            url, data=json.dumps({"arxiv_id": "not an id"}), content_type="application/json"
        )
        assert response.status_code == HTTPStatus.BAD_REQUEST, (url, response.content)
        assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/papers"),
        ("get", "/api/labs"),
        ("get", "/api/runs"),
        ("get", "/api/curriculum/weeks"),
        ("get", "/api/papers/progress"),
        ("get", "/api/kernels/suite"),
    ],
)
def test_both_spellings_answer_the_same_resource(debug, api, method, path):
    plain = getattr(api, method)(path)
    slashed = getattr(api, method)(path + "/")
    assert plain.status_code == HTTPStatus.OK
    assert slashed.status_code == HTTPStatus.OK
    assert slashed.json() == plain.json()


def test_the_other_spelling_of_a_post_route_keeps_its_body(debug, api):
    response = api.post(
        "/api/papers/watches/",
        data=json.dumps({"query": "flash attention"}),
        content_type="application/json",
    )
    assert response.status_code in (HTTPStatus.CREATED, HTTPStatus.BAD_REQUEST)
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    "path", ["/api/nope", "/api/nope/", "/api/papers/a/b/c", "/api/labs/runs/x/y"]
)
def test_an_unknown_api_path_is_a_json_404_in_either_spelling(debug, api, path):
    for method in ("get", "post"):
        response = getattr(api, method)(path)
        assert response.status_code == HTTPStatus.NOT_FOUND, (method, path)
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "Not Found"}


def test_anonymous_requests_to_either_spelling_are_401_not_a_redirect(debug):
    for path in ("/api/papers", "/api/papers/"):
        assert Client().get(path).status_code == HTTPStatus.UNAUTHORIZED


def test_html_pages_keep_their_trailing_slash(debug, owner_client):
    response = owner_client.get("/papers")
    assert response.status_code == HTTPStatus.MOVED_PERMANENTLY
    assert response["Location"] == "/papers/"
