"""The kernel lab API: the suite description and stored sweeps."""

from __future__ import annotations

from http import HTTPStatus

from django.test import Client


def test_anonymous_requests_are_refused(db):
    assert Client().get("/api/kernels/suite").status_code == HTTPStatus.UNAUTHORIZED
    assert Client().get("/api/kernels/sweeps").status_code == HTTPStatus.UNAUTHORIZED


def test_the_suite_lists_kernels_implementations_and_safeguards(api):
    body = api.get("/api/kernels/suite").json()
    assert [k["name"] for k in body["kernels"]] == [
        "vector_add", "softmax", "layer_norm", "matmul", "attention",
    ]  # fmt: skip
    assert {"eager", "compiled", "triton", "cpp"} <= {i["name"] for i in body["impls"]}
    assert any(s["key"] == "anti_caching" for s in body["safeguards"])


def test_sweeps_are_listed_and_read_with_their_points(api, gpu_sweep):
    listed = api.get("/api/kernels/sweeps").json()
    assert [s["id"] for s in listed] == [gpu_sweep.pk]
    detail = api.get(f"/api/kernels/sweeps/{gpu_sweep.pk}").json()
    assert detail["device_name"] == "NVIDIA H200"
    assert [p["status"] for p in detail["points"]] == ["ok", "incorrect"]


def test_an_unknown_sweep_is_404_with_a_message(api):
    response = api.get("/api/kernels/sweeps/424242")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "424242" in response.json()["detail"]


def test_wrong_methods_are_refused(api, gpu_sweep):
    assert api.post("/api/kernels/suite").status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert api.delete(f"/api/kernels/sweeps/{gpu_sweep.pk}").status_code == (
        HTTPStatus.METHOD_NOT_ALLOWED
    )


def test_another_users_sweep_is_not_listed_and_is_404(owner, other_user, api, gpu_sweep):
    from portal.core.services import issue_api_token
    from tests.labs.kernels.conftest import make_run, make_sweep

    mine = make_sweep(make_run(owner))
    assert {s["id"] for s in api.get("/api/kernels/sweeps").json()} == {mine.pk, gpu_sweep.pk}
    other = Client(
        headers={"Authorization": f"Bearer {issue_api_token(user=other_user, name='t')[1]}"}
    )
    assert [s["id"] for s in other.get("/api/kernels/sweeps").json()] == [gpu_sweep.pk]
    assert other.get(f"/api/kernels/sweeps/{mine.pk}").status_code == HTTPStatus.NOT_FOUND
    assert api.get(f"/api/kernels/sweeps/{mine.pk}").json()["run_id"] == mine.run_id


def test_a_sweep_without_a_run_is_staff_only(api, db):
    from tests.labs.kernels.conftest import make_sweep

    orphan = make_sweep(None)
    assert api.get(f"/api/kernels/sweeps/{orphan.pk}").status_code == HTTPStatus.NOT_FOUND
