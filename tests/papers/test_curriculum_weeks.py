"""A paper's curriculum weeks are the weeks whose readings cite it: one source, everywhere."""

from __future__ import annotations

import shutil
from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.urls import reverse

from portal.curriculum.content import CONTENT_DIR
from portal.curriculum.models import Week
from portal.papers.models import Paper, Reading
from portal.papers.services import read_paper_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan_and_papers(db) -> None:
    call_command("loadcurriculum", verbosity=0)
    call_command("loadpapers")


def _weeks_citing() -> dict[str, list[int]]:
    """From the stored weeks, not from the loader's own derivation."""
    citing: dict[str, list[int]] = {}
    for week in Week.objects.active().order_by("number"):
        for reading in week.readings:
            citing.setdefault(reading["arxiv_id"], []).append(week.number)
    return citing


def test_every_papers_weeks_are_exactly_the_weeks_whose_readings_cite_it(plan_and_papers):
    citing = _weeks_citing()
    core = {p.arxiv_id: p.curriculum_weeks for p in Paper.objects.core()}

    assert len(core) == 28
    assert core == {arxiv_id: citing.get(arxiv_id, []) for arxiv_id in core}
    # Every core paper is read somewhere, and every reading is a paper the tracker knows.
    assert all(core.values())
    assert set(citing) <= read_paper_data().known_ids


def test_the_weeks_the_issue_found_wrong_are_the_weeks_that_read_them(plan_and_papers):
    weeks = dict(Paper.objects.core().values_list("arxiv_id", "curriculum_weeks"))
    assert weeks["1805.02867"] == [6]  # online softmax, with the week-6 reductions
    assert weeks["2112.05682"] == [7]  # Rabe & Staats
    assert weeks["1712.05877"] == [4]  # Jacob et al., integer-only inference
    assert weeks["1704.04760"] == [2, 16]  # TPU: motivation, then reread before interviews
    assert weeks["2304.01433"] == [5]  # TPU v4
    assert weeks["1802.04799"] == [3]  # TVM
    assert weeks["2305.14314"] == [12]  # QLoRA
    assert weeks["2407.08608"] == [10]  # FlashAttention-3


def test_the_two_apis_give_the_same_weeks_for_every_paper(plan_and_papers, api):
    response = api.get("/api/curriculum/weeks")
    assert response.status_code == HTTPStatus.OK
    from_weeks: dict[str, list[int]] = {}
    for week in response.json():
        assert all(set(r) == {"arxiv_id", "title"} and r["title"] for r in week["readings"])
        for reading in week["readings"]:
            from_weeks.setdefault(reading["arxiv_id"], []).append(week["number"])

    for paper in Paper.objects.core():
        answer = api.get(f"/api/papers/{paper.arxiv_id}")
        assert answer.status_code == HTTPStatus.OK
        assert answer.json()["curriculum_weeks"] == from_weeks[paper.arxiv_id], paper.arxiv_id


def test_moving_a_reading_and_reloading_the_curriculum_moves_the_papers_week(
    plan_and_papers, tmp_path
):
    content = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, content)
    phase2 = content / "phase2.yaml"
    text = phase2.read_text(encoding="utf-8")
    # Week 7 reads Rabe & Staats; make it read the online softmax paper instead.
    text = text.replace('- arxiv_id: "2112.05682"', '- arxiv_id: "1805.02867"')
    text = text.replace('papers: ["2112.05682"]', 'papers: ["1805.02867"]')
    phase2.write_text(text, encoding="utf-8")

    call_command("loadcurriculum", "--dir", str(content), verbosity=0)  # no loadpapers

    weeks = dict(Paper.objects.values_list("arxiv_id", "curriculum_weeks"))
    assert weeks["1805.02867"] == [6, 7]
    assert weeks["2112.05682"] == []


def test_a_paper_outside_the_core_list_that_a_week_reads_shows_its_week(
    plan_and_papers, owner, owner_client
):
    ppo = Paper.objects.create(arxiv_id="1707.06347", title="Proximal Policy Optimization")
    Reading.objects.create(user=owner, paper=ppo)

    call_command("loadpapers")

    ppo.refresh_from_db()
    assert ppo.curriculum_weeks == [15]
    page = owner_client.get(reverse("papers:detail", args=["1707.06347"]))
    assert page.status_code == HTTPStatus.OK
    assert f'href="{reverse("curriculum:week", args=[15])}"' in page.content.decode()


def test_a_papers_page_links_exactly_the_weeks_that_read_it(plan_and_papers, owner_client):
    page = owner_client.get(reverse("papers:detail", args=["1704.04760"])).content.decode()
    plan = page[page.index('id="study-plan"') : page.index("</ul>", page.index('id="study-plan"'))]

    assert f'href="{reverse("curriculum:week", args=[2])}"' in plan
    assert f'href="{reverse("curriculum:week", args=[16])}"' in plan
    for other in (5, 6):  # the old, wrong weeks
        assert f'href="{reverse("curriculum:week", args=[other])}"' not in plan


def test_a_week_page_links_core_readings_to_the_tracker_and_others_to_arxiv(
    plan_and_papers, owner_client
):
    week_15 = owner_client.get(reverse("curriculum:week", args=[15])).content.decode()
    week_6 = owner_client.get(reverse("curriculum:week", args=[6])).content.decode()

    assert 'href="https://arxiv.org/abs/1707.06347"' in week_15  # PPO is not a core paper
    assert f'href="{reverse("papers:detail", args=["1805.02867"])}"' in week_6
