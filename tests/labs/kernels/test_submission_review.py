"""Staff review of flagged submissions: the queue, the decision, what the learner and the
leaderboard see; closed (404) to everyone but staff."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client

from portal.core.services import issue_api_token
from portal.labs.kernels import querysets
from portal.labs.kernels.models import Submission
from tests.labs.kernels.test_submissions_api import graded

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_api(staff) -> Client:
    return Client(headers={"Authorization": f"Bearer {issue_api_token(user=staff, name='t')[1]}"})


@pytest.fixture
def staff_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def _board_users() -> list[str]:
    rows = querysets.leaderboard(problem="softmax", device="cpu", dtype="float32")
    return [r["username"] for r in rows if not r["reference"]]


def _review(client: Client, pk: int, decision: str, note: str = ""):
    return client.post(
        f"/api/kernels/submissions/{pk}/review",
        {"decision": decision, "note": note},
        content_type="application/json",
    )


def test_staff_accept_a_flagged_submission_and_it_is_ranked(owner, staff, staff_api, api):
    flagged = graded(owner, score=0.01, flagged=True)
    assert _board_users() == []

    queue = staff_api.get("/api/kernels/review").json()
    assert [row["id"] for row in queue] == [flagged.pk]
    assert queue[0]["username"] == "owner" and "custom_kernel" in queue[0]["source"]

    response = _review(staff_api, flagged.pk, "accept", "timed it again by hand: genuine")
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["review"] == "accepted" and response.json()["flagged"] is False
    assert _board_users() == ["owner"]
    assert staff_api.get("/api/kernels/review").json() == []  # nothing pending any more
    assert [r["id"] for r in staff_api.get("/api/kernels/review?pending=false").json()] == [
        flagged.pk
    ]
    mine = api.get(f"/api/kernels/submissions/{flagged.pk}").json()
    assert mine["review"] == "accepted" and mine["review_note"].startswith("timed it again")


def test_a_rejected_submission_stays_off_the_board_and_the_learner_sees_why(
    owner, staff, staff_api, owner_client
):
    flagged = graded(owner, score=0.01, flagged=True)
    assert _review(staff_api, flagged.pk, "reject", "returns a cached output").status_code == 200
    flagged.refresh_from_db()
    assert flagged.flagged and flagged.review == "rejected" and flagged.reviewed_by == staff
    assert _board_users() == []
    html = owner_client.get(f"/labs/kernels/submissions/{flagged.pk}/").content.decode()
    assert "审核后已拒绝" in html and "returns a cached output" in html  # zh-hans by default
    # A decision can be changed.
    assert _review(staff_api, flagged.pk, "accept").json()["review"] == "accepted"
    assert _board_users() == ["owner"]


def test_only_staff_review_and_only_what_was_flagged(owner, other_user, staff_api, api):
    flagged = graded(owner, score=0.01, flagged=True)
    clean = graded(other_user, score=0.5)
    before = list(Submission.objects.values_list("pk", "flagged", "review").order_by("pk"))

    # The learner (even the submission's owner) and anyone else: 404, nothing changes.
    assert api.get("/api/kernels/review").status_code == HTTPStatus.NOT_FOUND
    assert _review(api, flagged.pk, "accept").status_code == HTTPStatus.NOT_FOUND
    # Staff: a submission the grader did not flag is not theirs to rank by hand.
    assert _review(staff_api, clean.pk, "accept").status_code == HTTPStatus.CONFLICT
    assert _review(staff_api, 999_999, "accept").status_code == HTTPStatus.NOT_FOUND
    response = _review(staff_api, flagged.pk, "approve")
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert list(Submission.objects.values_list("pk", "flagged", "review").order_by("pk")) == before


def test_the_review_pages_for_staff_and_404_for_learners(owner, staff_client, owner_client):
    flagged = graded(owner, score=0.01, flagged=True)
    timing = {
        "shape": [4096, 4096],
        "median_ms": 0.0123,
        "eager_ms": 0.5,
        "gbs": 1.0,
        "tflops": 0.1,
    }
    flagged.result = {"score_ms": 0.0123, "timings": [timing]}
    flagged.save(update_fields=["result"])
    assert owner_client.get("/labs/kernels/review/").status_code == HTTPStatus.NOT_FOUND
    assert (
        owner_client.get(f"/labs/kernels/review/{flagged.pk}/").status_code == HTTPStatus.NOT_FOUND
    )
    learner_page = owner_client.get(f"/labs/kernels/submissions/{flagged.pk}/").content.decode()
    assert "已标记待审核" in learner_page and "不计入排名" in learner_page

    queue = staff_client.get("/labs/kernels/review/").content.decode()
    assert f"/labs/kernels/review/{flagged.pk}/" in queue and "owner" in queue
    page = staff_client.get(f"/labs/kernels/review/{flagged.pk}/").content.decode()
    assert "def custom_kernel" in page
    assert "4096 x 4096" in page and "0.0123" in page  # the timings it was flagged on
    assert "4096 x 4096" in learner_page

    bad = staff_client.post(f"/labs/kernels/review/{flagged.pk}/", {"decision": "maybe"})
    assert bad.status_code == HTTPStatus.BAD_REQUEST
    done = staff_client.post(
        f"/labs/kernels/review/{flagged.pk}/", {"decision": "accept", "note": "fine"}
    )
    assert done.status_code == HTTPStatus.FOUND and done["Location"] == "/labs/kernels/review/"
    flagged.refresh_from_db()
    assert (flagged.review, flagged.flagged, flagged.review_note) == ("accepted", False, "fine")
    assert (
        "审核后已接受"
        in owner_client.get(f"/labs/kernels/submissions/{flagged.pk}/").content.decode()
    )
