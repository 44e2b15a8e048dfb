"""The Labs page's launch forms are the same for everyone: built once, then served from the cache."""

from __future__ import annotations

import re
import uuid

import pytest
from pydantic import BaseModel, Field

from portal.labs import registry, views
from portal.labs.registry import Lab, LabResult, all_labs

pytestmark = pytest.mark.django_db


class _Params(BaseModel):
    width: int = Field(default=4, ge=1, le=9, description="How wide.")


class _Result(LabResult):
    ok: bool


@pytest.fixture
def new_lab():
    """A lab registered now (as a new deployment would), removed again after the test."""
    lab = registry.register_lab(
        Lab(
            id=f"catalogue-{uuid.uuid4().hex[:8]}",
            title="Catalogue test lab",
            description="Registered by a test.",
            params=_Params,
            result=_Result,
            run=lambda params, ctx: {"ok": True},
        )
    )
    yield lab
    registry._registry.pop(lab.id, None)


@pytest.fixture
def built(monkeypatch) -> list[str]:
    """The ids of the labs whose launch form the Labs page builds."""
    calls: list[str] = []
    real = views.params_form

    def counting(lab, data=None):  # noqa: ANN001, ANN202
        calls.append(lab.id)
        return real(lab, data)

    monkeypatch.setattr(views, "params_form", counting)
    return calls


def test_a_newly_registered_lab_shows_at_once_and_later_pages_build_no_form(
    new_lab, built, owner_client
):
    html = owner_client.get("/labs/").content.decode()
    assert f'id="launch-{new_lab.id}"' in html and f'name="{new_lab.id}-width"' in html
    assert new_lab.id in built  # the catalogue changed: its forms were built afresh

    built.clear()
    again = owner_client.get("/labs/").content.decode()
    assert built == []
    assert f'name="{new_lab.id}-width"' in again and 'max="9"' in again


def test_every_cached_launch_form_carries_the_viewers_own_csrf_token(owner_client, other_client):
    def tokens(client) -> set[str]:  # noqa: ANN001
        html = client.get("/labs/").content.decode()
        found = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert len(found) >= len(all_labs())
        return set(found)

    mine, theirs = tokens(owner_client), tokens(other_client)
    assert mine.isdisjoint(theirs)
