"""Pages for kernel submissions: the form, my submissions, one submission, the leaderboard."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from portal.labs.kernels.models import Submission

GOOD = "def custom_kernel(data):\n    a, b = data\n    return a + b\n"
PAGES = ["kernels:submit", "kernels:submissions", "kernels:leaderboard"]


def make(owner, source=GOOD, **fields) -> Submission:
    defaults = {"problem": "softmax", "dtype": "float32", "language": "pytorch"}
    return Submission.objects.create(owner=owner, source=source, **{**defaults, **fields})


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_visitors_are_sent_to_log_in(db, name):
    response = Client().get(reverse(name))
    assert response.status_code == HTTPStatus.FOUND
    assert "login" in response["Location"]


def test_the_form_starts_from_the_chosen_problems_template(owner_client):
    html = owner_client.get(reverse("kernels:submit") + "?problem=matmul&language=cpp").content
    assert b"load_inline" in html and b"custom_kernel" in html and b"(M, K)" in html


def test_a_pasted_kernel_is_submitted_and_shown(owner_client, owner):
    body = {"problem": "vector_add", "dtype": "float32", "language": "pytorch", "source": GOOD}
    response = owner_client.post(reverse("kernels:submit"), body)
    submission = Submission.objects.get(owner=owner)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("kernels:submission", args=[submission.pk])
    assert submission.run is not None and submission.run.owner == owner


def test_an_uploaded_file_is_the_source(owner_client, owner):
    upload = SimpleUploadedFile("mine.py", GOOD.encode(), content_type="text/x-python")
    body = {"problem": "softmax", "dtype": "bfloat16", "language": "triton", "upload": upload}
    owner_client.post(reverse("kernels:submit"), body)
    submission = Submission.objects.get(owner=owner)
    assert (submission.source, submission.dtype, submission.language) == (
        GOOD,
        "bfloat16",
        "triton",
    )


def test_an_upload_over_1_mb_is_refused_and_nothing_stored(owner_client):
    upload = SimpleUploadedFile("big.py", b"#" * 1_100_000)
    body = {"problem": "softmax", "dtype": "float32", "language": "pytorch", "upload": upload}
    response = owner_client.post(reverse("kernels:submit"), body)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"1,000,000" in response.content
    assert not Submission.objects.exists()


def test_my_submissions_list_only_mine(owner_client, owner, other_user):
    mine = make(owner, verdict="passed", score_ms=1.5)
    theirs = make(other_user)
    html = owner_client.get(reverse("kernels:submissions")).content.decode()
    assert reverse("kernels:submission", args=[mine.pk]) in html
    assert reverse("kernels:submission", args=[theirs.pk]) not in html


def test_another_users_submission_is_404(owner_client, other_user):
    theirs = make(other_user)
    response = owner_client.get(reverse("kernels:submission", args=[theirs.pk]))
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_a_submission_shows_its_verdict_explanation_and_diff_against_the_previous(
    owner_client, owner
):
    make(owner, source=GOOD)
    failed = make(
        owner,
        source=GOOD.replace("a + b", "a - b"),
        verdict="failed: correctness",
        result={"reason": "tolerance", "message": "shape [33, 100]: 3300 of 3300 outside"},
    )
    html = owner_client.get(reverse("kernels:submission", args=[failed.pk])).content.decode()
    assert "failed: correctness" in html and "3300 of 3300" in html
    assert "-    return a + b" in html and "+    return a - b" in html
    assert "float64" in html  # the tolerance check's explanation


def test_the_leaderboard_page_ranks_users(owner_client, owner, other_user):
    make(owner, verdict="passed", score_ms=2.0, device="cpu")
    make(other_user, verdict="passed", score_ms=1.0, device="cpu")
    html = owner_client.get(reverse("kernels:leaderboard") + "?problem=softmax").content.decode()
    board = html[html.index('data-testid="leaderboard"') :]
    assert board.index(f"<td>{other_user.username}") < board.index(f"<td>{owner.username}")


def test_an_unknown_problem_on_the_leaderboard_page_is_404(owner_client):
    response = owner_client.get(reverse("kernels:leaderboard") + "?problem=fft")
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_wrong_methods_are_refused(owner_client):
    assert owner_client.delete(reverse("kernels:submit")).status_code == 405
    assert owner_client.post(reverse("kernels:leaderboard")).status_code == 405


def test_the_kernel_lab_page_links_to_submitting(owner_client):
    html = owner_client.get(reverse("kernels:index")).content.decode()
    assert reverse("kernels:submit") in html and "提交你的 kernel" in html


def test_week_10_shows_the_link_and_passing_submissions_as_project_evidence(owner_client, owner):
    call_command("loadcurriculum", verbosity=0)
    passing = make(owner, verdict="passed", score_ms=1.0, device="cpu")
    make(owner, verdict="failed: correctness")
    html = owner_client.get(reverse("curriculum:week", args=[10])).content.decode()
    assert reverse("kernels:submit") in html
    assert reverse("kernels:submission", args=[passing.pk]) in html
    assert html.count('href="/labs/kernels/submissions/') == 2  # the list link and the pass
    week9 = owner_client.get(reverse("curriculum:week", args=[9])).content.decode()
    assert reverse("kernels:submit") not in week9
