"""Results stored before the labs had typed Result models still load and render; a lab
returning the wrong shape fails its run loudly.

The files under stored_results/ are what each lab returned at commit c4b9f76 (small
parameters, this machine), as a run's `result` column holds them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from pydantic import BaseModel, ValidationError

from portal.labs import registry, services
from portal.labs.models import Run, RunStatus
from portal.labs.registry import DeviceClass, Lab, LabResult, all_labs, get_lab, register_lab
from portal.labs.testing import run_inline

STORED = {
    p.stem: json.loads(p.read_text())
    for p in (Path(__file__).parent / "stored_results").glob("*.json")
}


def _stored_run(owner, lab_id: str) -> Run:
    stored = STORED[lab_id]
    return Run.objects.create(
        owner=owner,
        lab_id=lab_id,
        params=stored["params"],
        result=stored["result"],
        status=RunStatus.SUCCEEDED,
        queue="cpu",
        time_limit_s=60,
        soft_time_limit_s=50,
        worker="celery@box",
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )


def test_there_is_a_stored_result_of_every_lab():
    assert {lab.id for lab in all_labs() if not lab.id.startswith("test-")} <= set(STORED)


@pytest.mark.django_db
@pytest.mark.parametrize("lab_id", sorted(STORED))
def test_a_stored_result_loads_as_its_labs_result_and_renders(lab_id, owner, owner_client):
    run = _stored_run(owner, lab_id)
    typed = run.typed_result
    assert isinstance(typed, get_lab(lab_id).result)
    summary = typed.summary()
    assert summary

    page = owner_client.get(reverse("labs:run", args=[run.pk]))
    assert page.status_code == HTTPStatus.OK

    compare = owner_client.get(reverse("labs:compare"), {"run": [run.pk]})
    assert compare.status_code == HTTPStatus.OK
    body = compare.content.decode()
    shown = [k for k, v in summary.items() if isinstance(v, str) and v and "<" not in v]
    assert all(f"<th>{key}</th>" in body for key in summary)
    assert all(str(summary[k]) in body for k in shown[:5])

    if get_lab(lab_id).report_url_name:
        report = owner_client.get(reverse(get_lab(lab_id).report_url_name, args=[run.pk]))
        assert report.status_code == HTTPStatus.OK
        assert str(typed.model) in report.content.decode()


class _Params(BaseModel):
    pass


class _Result(LabResult):
    score: float


SHAPED = Lab(
    id="test-shaped-result",
    title="Returns the wrong shape (test)",
    description="",
    params=_Params,
    result=_Result,
    run=lambda params, ctx: {"scor": 1.0},
    device=DeviceClass.CPU,
)


@pytest.fixture(autouse=True)
def shaped_lab() -> Iterator[Lab]:
    """Registered only while these tests run: other tests walk every registered lab."""
    register_lab(SHAPED)
    yield SHAPED
    registry._registry.pop(SHAPED.id, None)


def test_a_result_of_the_wrong_shape_fails_a_unit_test_of_the_lab():
    with pytest.raises(ValidationError, match="score"):
        run_inline(SHAPED.id)


@pytest.mark.django_db
def test_finish_run_fails_a_run_whose_result_is_not_of_its_labs_shape(owner):
    run = Run.objects.create(
        owner=owner,
        lab_id=SHAPED.id,
        queue="cpu",
        time_limit_s=60,
        soft_time_limit_s=50,
        status=RunStatus.RUNNING,
        started_at=timezone.now(),
    )

    services.finish_run(run_id=run.pk, status=RunStatus.SUCCEEDED, result={"scor": 1.0})

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "_Result" in run.error and "score" in run.error
    assert run.result is None
    assert not run.events.filter(kind="result").exists()


@pytest.mark.django_db
def test_finish_run_stores_a_result_of_the_right_shape_as_returned(owner):
    run = Run.objects.create(
        owner=owner,
        lab_id=SHAPED.id,
        queue="cpu",
        time_limit_s=60,
        soft_time_limit_s=50,
        status=RunStatus.RUNNING,
        started_at=timezone.now(),
    )

    services.finish_run(
        run_id=run.pk, status=RunStatus.SUCCEEDED, result={"score": 2, "extra": [1]}
    )

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.result == {"score": 2, "extra": [1]}
    assert run.typed_result.score == 2.0
