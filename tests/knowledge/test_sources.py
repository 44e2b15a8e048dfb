"""Ingestion of the real curriculum, paper tracker and lab runs into the knowledge base."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone

from portal.curriculum.models import Item, Phase, Week
from portal.knowledge import sources
from portal.knowledge.answering import answer_question
from portal.knowledge.models import Document, Source
from portal.knowledge.services import embed_document
from portal.labs.models import EventKind, Run, RunArtifact, RunEvent, RunStatus
from portal.papers.models import Paper, Reading, ReadingStatus

pytestmark = pytest.mark.django_db


def _docs(source: str) -> dict[str, Document]:
    return {d.source_key: d for d in Document.objects.filter(source=source)}


def make_run(owner, *, status: str, lab_id: str = "llm-quant", **fields) -> Run:  # noqa: ANN001, ANN003
    now = timezone.now()
    return Run.objects.create(
        owner=owner,
        lab_id=lab_id,
        params={"model": "tiny-random", "bits": 4},
        status=status,
        queue="cpu",
        time_limit_s=600,
        soft_time_limit_s=540,
        worker="cpu@test",
        started_at=now - timezone.timedelta(seconds=42),
        finished_at=now if status not in ("queued", "running") else None,
        **fields,
    )


def test_every_week_phase_goal_list_and_guide_section_of_the_plan_becomes_a_shared_document(
    plan,
):
    counts = sources.sync_sources()
    assert counts["failed"] == 0
    docs = _docs(Source.CURRICULUM)
    weeks = Week.objects.active().count()
    assert weeks == 16
    assert {f"week:{n}" for n in range(1, 17)} <= set(docs)
    assert {f"phase:{p.slug}" for p in Phase.objects.all()} <= set(docs)
    assert {"goals:skill", "goals:output", "guide:faq"} <= set(docs)
    assert all(d.owner_id is None for d in docs.values())

    week1 = docs["week:1"]
    assert week1.title == f"第1周 {Week.objects.get(number=1).title}"
    assert week1.url == "/curriculum/weeks/1/"
    # goals, the checklist (every task of the week, under its day) and the project
    for goal in Week.objects.get(number=1).goals:
        assert goal in week1.content
    for task in Item.objects.active().tasks().filter(week__number=1):
        assert task.title in week1.content
    assert "## 任务清单" in week1.content
    assert "第一阶段 基础强化" in week1.content
    faq = docs["guide:faq"].content
    assert "没有GPU怎么办？" in faq and "Google Colab" in faq


def test_a_second_sync_of_unchanged_apps_queues_nothing_and_an_edit_requeues_one_week(plan):
    first = sources.sync_sources()
    assert first["queued"] > 20
    again = sources.sync_sources()
    assert again["queued"] == 0 and again["removed"] == 0
    Week.objects.filter(number=3).update(summary="改过的第3周概述")
    third = sources.sync_sources()
    assert third["queued"] == 1
    assert "改过的第3周概述" in _docs(Source.CURRICULUM)["week:3"].content


def test_a_new_chunker_version_requeues_every_document(plan, monkeypatch):
    from portal.knowledge import text as kbtext

    first = sources.sync_sources()
    monkeypatch.setattr(kbtext, "CHUNKER_VERSION", kbtext.CHUNKER_VERSION + 1)
    again = sources.sync_sources()
    assert again["queued"] == first["queued"] and again["unchanged"] == 0


def test_an_archived_week_leaves_the_knowledge_base(plan):
    sources.sync_sources()
    Week.objects.filter(number=16).update(archived=True)
    counts = sources.sync_sources()
    assert counts["removed"] == 1
    assert "week:16" not in _docs(Source.CURRICULUM)


def test_core_papers_are_shared_and_a_readers_notes_are_theirs_alone(
    core_papers, owner, other_user
):
    flash = Paper.objects.get(arxiv_id="2205.14135")
    # what an arXiv sync stores
    Paper.objects.filter(pk=flash.pk).update(
        title="FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness",
        abstract="We propose FlashAttention, an IO-aware exact attention algorithm that uses tiling.",
        authors=["Tri Dao", "Daniel Y. Fu"],
    )
    Reading.objects.create(
        user=owner,
        paper=flash,
        status=ReadingStatus.READ,
        rating=5,
        notes="分块计算 softmax，HBM 读写从 O(N^2) 降到 O(N^2 d^2 / M)。",
        tags=["kernels"],
        read_at=timezone.now(),
    )
    # a to-read record of a core paper with nothing of the reader's own adds nothing
    Reading.objects.create(user=other_user, paper=Paper.objects.get(arxiv_id="1706.03762"))
    sources.sync_sources()

    shared = Document.objects.filter(source=Source.PAPER, owner=None)
    assert shared.count() == Paper.objects.core().count() == 28
    doc = shared.get(source_key="paper:2205.14135")
    assert doc.title.startswith("FlashAttention: Fast")
    assert "IO-aware exact attention" in doc.content
    assert "Tri Dao" in doc.content
    assert "第10周" in doc.content and "kernels" in doc.content
    assert doc.url == "/papers/2205.14135/"
    # a paper not synced yet is still there under its short name
    assert shared.get(source_key="paper:1706.03762").title == "Attention Is All You Need"

    notes = Document.objects.get(source=Source.PAPER, source_key="reading:2205.14135")
    assert notes.owner == owner
    assert "分块计算 softmax" in notes.content
    assert "已读" in notes.content and "评分 5/5" in notes.content
    assert notes not in Document.objects.visible_to(other_user)
    assert not Document.objects.filter(owner=other_user).exists()


def test_a_paper_outside_the_core_list_is_ingested_only_for_the_person_who_added_it(
    core_papers, owner
):
    paper = Paper.objects.create(
        arxiv_id="2106.09685",
        title="LoRA",
        abstract="Low-rank adaptation of large language models.",
    )
    Reading.objects.create(user=owner, paper=paper, status=ReadingStatus.READING)
    sources.sync_sources()
    assert not Document.objects.filter(source_key="paper:2106.09685").exists()
    doc = Document.objects.get(source_key="reading:2106.09685")
    assert doc.owner == owner
    assert "Low-rank adaptation of large language models." in doc.content  # its abstract, here only
    Reading.objects.filter(paper=paper).delete()
    assert sources.sync_sources()["removed"] == 1


def test_finished_lab_runs_become_their_owners_reports_with_results_and_tables(owner, other_user):
    ok = make_run(
        owner,
        status=RunStatus.SUCCEEDED,
        result={"perplexity": 65.7123, "variants": [{"variant": "int8", "tokens_per_s": 812.5}]},
        last_seq=1,
    )
    RunEvent.objects.create(
        run=ok,
        seq=1,
        kind=EventKind.TABLE,
        ts=timezone.now(),
        data={"name": "latency", "rows": [{"batch": 1, "ms": 12.5}, {"batch": 8, "ms": 30.25}]},
    )
    failed = make_run(owner, status=RunStatus.FAILED, error="CUDA out of memory")
    make_run(owner, status=RunStatus.RUNNING)
    make_run(other_user, status=RunStatus.CANCELLED)
    sources.sync_sources()

    docs = _docs(Source.LAB_REPORT)
    assert set(docs) == {f"run:{ok.pk}", f"run:{failed.pk}"}
    report = docs[f"run:{ok.pk}"]
    assert report.owner == owner
    assert report.url == f"/labs/runs/{ok.pk}/"
    assert "运行 #" in report.title and "成功" in report.title
    assert "perplexity: 65.71" in report.content
    assert "| variant | tokens_per_s |" in report.content
    assert (
        "## 表格：latency" in report.content and "| 30.25 | 8 |" in report.content
    )  # jsonb orders keys
    assert "bits: 4" in report.content
    assert "CUDA out of memory" in docs[f"run:{failed.pk}"].content
    assert not Document.objects.visible_to(other_user).filter(source=Source.LAB_REPORT).exists()


def test_the_llm_labs_markdown_report_artifact_is_the_report(owner, tmp_path: Path):
    run = make_run(owner, status=RunStatus.SUCCEEDED, result={"perplexity": 1.0})
    md = tmp_path / "llm-quant-report.md"
    md.write_text("# 量化性能测试报告\n\n| variant | ppl |\n|---|---|\n| int4 | 66.1 |\n")
    RunArtifact.objects.create(run=run, name="llm-quant-report.md", path=str(md), size=1)
    RunArtifact.objects.create(run=run, name="llm-quant-report.json", path="/nope.json", size=1)
    assert sources.ingest_run(run.pk) is True
    doc = Document.objects.get(source_key=f"run:{run.pk}")
    assert "量化性能测试报告" in doc.content and "| int4 | 66.1 |" in doc.content
    assert sources.ingest_run(run.pk) is False  # unchanged: a no-op


def test_a_question_about_a_week_is_answered_from_the_ingested_plan_with_a_link_to_it(plan):
    sources.sync_sources()
    for doc in Document.objects.filter(source_key__in=["week:1", "week:2", "week:8"]):
        embed_document(doc.pk)
    answer = answer_question("SmoothQuant 和 AWQ 怎么解决激活离群值问题？", user=None, llm=None)
    assert answer.found
    top = answer.citations[0]
    assert top.title.startswith("第8周")
    assert top.url.startswith("/curriculum/weeks/8/")


def test_a_phase_document_holds_its_row_of_the_plans_kaggle_table(plan):
    sources.sync_sources()
    hardware = _docs(Source.CURRICULUM)["phase:hardware"].content
    # the whole row on one line: "5-8周参加竞赛那段时间要产出什么" is asked of the row
    assert "Kaggle活动：参加CV/NLP竞赛（配合实践：模型优化，产出：性能报告）" in hardware
    assert "产出：性能报告" in hardware
    # the row's practice is not the phase's own 实践项目 (its milestone project)
    assert "实践项目：模型量化项目" in hardware and "实践项目：模型优化" not in hardware


def test_a_papers_facts_are_labelled_lines_of_its_document(core_papers):
    import datetime

    flash = Paper.objects.get(arxiv_id="2205.14135")
    flash.title = "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness"
    flash.authors = ["Tri Dao", "Daniel Y. Fu"]
    flash.published = datetime.datetime(2022, 5, 27, tzinfo=datetime.UTC)
    content = sources.paper_document(flash)
    assert content.startswith(f"# {flash.title}\n")
    for line in ("- 简称：FlashAttention", "- arXiv：2205.14135", "- 作者：Tri Dao, Daniel Y. Fu",
                 "- 发表：2022-05"):  # fmt: skip
        assert line in content.splitlines()
