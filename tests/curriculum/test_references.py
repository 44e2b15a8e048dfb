"""Every internal reference of the content resolves, and the plan's tables and text are kept.

The plan document's tables and lines are quoted here exactly (the content files may add
detail around them, never change them).
"""

from __future__ import annotations

import re
from http import HTTPStatus
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from portal.curriculum.content import Content, read_content
from portal.labs.registry import get_lab
from portal.papers.services import read_paper_data

# 16周详细规划: 阶段 | 周次 | 学习重点 | 实践项目 | 里程碑
DETAILED_PLAN = [
    ("基础", (1, 4), "Python/C++/PyTorch", "PyTorch自定义算子", "基础技能掌握"),
    ("硬件", (5, 8), "GPU架构/CUDA/优化", "模型量化项目", "优化能力获得"),
    ("大模型", (9, 12), "Transformer/LLM/部署", "大模型部署Demo", "Demo 1完成"),
    ("应用", (13, 16), "飞书开发/Agent设计", "飞书机器人+Sandbox", "Demo 2&3完成"),
]
# 16周实践计划: 周次 | Kaggle活动 | 实践项目 | 产出
PRACTICE_PLAN = [
    ((1, 4), "学习Notebooks", "基础PyTorch", "GitHub repo"),
    ((5, 8), "参加CV/NLP竞赛", "模型优化", "性能报告"),
    ((9, 12), "LLM竞赛", "大模型部署", "Demo视频"),
    ((13, 16), "发布Notebook", "飞书AI机器人", "完整应用"),
]
# 4个实践项目, with their weeks.
PRACTICE_PROJECTS = {
    8: "LLM量化部署",
    10: "自定义CUDA Kernel",
    14: "飞书AI机器人",
    16: "Agent Sandbox原型",
}
# 三大Demo方向, their importance and project.
DEMOS = {
    12: (1, "大模型部署优化", 5, "ChatGLM-6B量化部署"),
    14: (2, "飞书AI智能助手", 5, "飞书知识库问答机器人"),
    16: (3, "Agent Sandbox原型", 4, "硬件感知的RL环境（MVP）"),
}
# The milestone week of each phase delivers the phase's practice project.
MILESTONE_PROJECTS = {4: "自定义算子", 8: "量化", 12: "Demo 1", 16: "Sandbox"}


@pytest.fixture(scope="module")
def content() -> Content:
    return read_content()


def _weeks(content: Content) -> list:
    return [w for p in content.phases for w in p.weeks]


def test_every_reading_and_every_cited_paper_is_a_paper_the_tracker_knows(content):
    known = read_paper_data().known_ids
    for week in _weeks(content):
        readings = {r.arxiv_id for r in week.readings}
        assert readings <= known, week.number
        for task in week.tasks:
            assert set(task.papers) <= readings, task.slug  # a task reads its week's papers
    goals = [g for grp in content.goals.skill + content.goals.output for g in grp.items]
    for goal in goals:
        assert set(goal.papers) <= known, goal.slug


def test_every_lab_a_week_a_task_or_a_goal_names_is_registered(content):
    named: set[str] = set()
    for week in _weeks(content):
        named |= set(week.labs) | {week.project.lab} - {""}
        named |= {lab for task in week.tasks for lab in task.labs}
        # A week's labs are the ones its project or its tasks practise, the project's among them.
        practised = {week.project.lab} | {lab for t in week.tasks for lab in t.labs}
        assert set(week.labs) <= practised, week.number
        assert week.project.lab in set(week.labs) | {""}, week.number
    named |= {
        lab
        for grp in content.goals.skill + content.goals.output
        for g in grp.items
        for lab in g.labs
    }

    assert named == {"system-benchmark", "kernels", "llm-quant", "llm-serving", "agent-sandbox"}
    for lab_id in sorted(named):
        assert get_lab(lab_id) is not None, f"{lab_id} is not a registered lab"


def test_a_labs_own_week_is_a_week_that_practises_it(content):
    """The lab catalogue's "Week N" and the plan agree: the lab's week names it."""
    from portal.labs.registry import all_labs

    practised: dict[str, set[int]] = {}
    for week in _weeks(content):
        for lab_id in set(week.labs) | {week.project.lab} | {x for t in week.tasks for x in t.labs}:
            practised.setdefault(lab_id, set()).add(week.number)
    for lab in all_labs():
        if lab.week is not None and lab.id in practised:
            assert lab.week in practised[lab.id], (lab.id, lab.week, sorted(practised[lab.id]))


def test_each_weeks_phase_and_project_match_the_plans_sixteen_week_tables(content):
    for phase, row, practice in zip(content.phases, DETAILED_PLAN, PRACTICE_PLAN, strict=True):
        title, weeks, focus, project, milestone = row
        assert phase.phase.title.startswith(title)
        assert (phase.phase.weeks, phase.phase.focus, phase.phase.project) == (
            weeks,
            focus,
            project,
        )
        assert phase.phase.milestone == milestone
        assert (phase.phase.weeks, phase.phase.kaggle_activity, phase.phase.practice) == practice[
            :3
        ]
        assert phase.phase.output == practice[3]
        assert phase.phase.summary
    by_number = {w.number: w for w in _weeks(content)}
    for number, title in PRACTICE_PROJECTS.items():
        assert title in by_number[number].project.title, number
    for number, key in MILESTONE_PROJECTS.items():
        assert key in by_number[number].project.title, number
    demos = {
        w.number: (
            w.project.demo.number,
            w.project.demo.title,
            w.project.demo.stars,
            w.project.demo.project,
        )
        for w in by_number.values()
        if w.project.demo
    }
    assert demos == DEMOS


def _well_formed(url: str) -> bool:
    parts = urlsplit(url)
    return (
        parts.scheme == "https"
        and re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", parts.netloc or "") is not None
        and not re.search(r"\s", url)
    )


def test_every_url_is_well_formed_and_unique_where_it_should_be(content):
    for week in _weeks(content):
        urls = [str(r.url) for r in week.resources]
        assert all(_well_formed(u) for u in urls), week.number
        assert len(set(urls)) == len(urls), f"week {week.number} lists a resource twice"
    guide = [str(e.url) for es in content.guide.sections.values() for e in es if e.url]
    assert all(_well_formed(u) for u in guide)
    assert len(set(guide)) == len(guide), "the guide lists a link twice"
    # The plan's dead link is not linked any more.
    assert not any("paperswithcode.com" in u for u in guide)


def test_the_plans_text_that_was_missing_is_there_word_for_word(content):
    guide = content.guide.sections
    research = " ".join(e.title for e in guide["research"])
    for lab in (
        "Stanford DAWN Lab",
        "Stanford HAI",
        "UC Berkeley Sky Computing Lab",
        "MIT Han Lab",
    ):
        assert lab in research
    for university in ("MIT CSAIL", "CMU", "Princeton", "UW"):
        assert university in research
    maintenance = {e.slug: e.data["lines"] for e in guide["maintenance"]}
    assert maintenance == {
        "doc-version": [
            "当前版本：v1.0",
            "创建日期：2026-01-07",
            "最后更新：2026-01-07",
            "维护者：AI Assistant (Alma)",
        ],
        "doc-update-plan": ["每月更新论文清单", "跟踪曦望sunrise技术动态", "根据用户反馈优化"],
    }
    kaggle = next(e for e in guide["dataset"] if e.slug == "kaggle-competitions")
    assert "LLM应用竞赛、模型优化与部署、GPU/边缘设备优化" in kaggle.body
    by_number = {w.number: w for w in _weeks(content)}
    week_15 = by_number[15].topics
    assert "核心创新：多芯片适配的强化学习环境" in week_15
    assert "可行性评估：✅ 高度可行" in by_number[15].summary
    assert any("芯片感知的训练策略" in t for t in week_15)
    route = "1. 基础框架（Gym兼容） 2. 单芯片适配（NVIDIA） 3. Agent集成（PPO/DQN） 4. 多芯片支持 5. 自适应优化 6. 评估系统"
    assert any(route in t for t in week_15)
    week_16_tasks = {t.slug: t.title for t in by_number[16].tasks}
    assert week_16_tasks["w16-chip-aware-strategy"] == "芯片感知的训练策略"
    assert week_16_tasks["w16-adaptive-batch"].startswith("自适应优化")


def test_the_facts_the_review_found_wrong_stay_fixed(content):
    by_number = {w.number: w for w in _weeks(content)}
    dqn = next(r for r in by_number[15].readings if r.arxiv_id == "1312.5602")
    assert "目标网络是 2015 年 Nature 版" in dqn.why  # the 2013 paper has none
    text = content.model_dump_json()
    assert "第 3-5 章" not in text and "第 15-22 章" not in text
    assert "Lecture 9（Reductions" in text
    communities = {e.slug: e for e in content.guide.sections["community"]}
    forum = communities["discord-pytorch"]
    assert "discuss.pytorch.org" in str(forum.url) and not forum.title.startswith("Discord")


def test_the_curriculum_pages_show_phase_outputs_summaries_and_demo_stars(plan, owner_client):
    index = owner_client.get(reverse("curriculum:index")).content.decode()
    for output in ("GitHub repo", "性能报告", "Demo视频", "完整应用"):
        assert output in index
    assert 'data-testid="demo-12">Demo 1: 大模型部署优化 ⭐⭐⭐⭐⭐<' in index
    assert 'data-testid="demo-14">Demo 2: 飞书AI智能助手 ⭐⭐⭐⭐⭐<' in index
    assert 'data-testid="demo-16">Demo 3: Agent Sandbox原型 ⭐⭐⭐⭐<' in index
    assert "打牢三门语言/框架的底子" in index  # phase 1's summary

    week_16 = owner_client.get(reverse("curriculum:week", args=[16]))
    assert week_16.status_code == HTTPStatus.OK
    page = week_16.content.decode()
    assert "Demo 3: Agent Sandbox原型 ⭐⭐⭐⭐" in page and "⭐⭐⭐⭐⭐" not in page
    assert "完整应用" in page
    week_11 = owner_client.get(reverse("curriculum:week", args=[11])).content.decode()
    assert (
        "⭐⭐⭐⭐ " not in week_11.replace("⭐⭐⭐⭐⭐", "") and 'data-testid="demo"' not in week_11
    )


def test_the_guide_page_shows_the_practice_plan_and_the_maintenance_block(plan, owner_client):
    page = owner_client.get(reverse("curriculum:guide")).content.decode()
    for line in (
        "当前版本：v1.0",
        "创建日期：2026-01-07",
        "最后更新：2026-01-07",
        "每月更新论文清单",
        "跟踪曦望sunrise技术动态",
    ):
        assert line in page
    table = page[page.index('id="practice-plan"') :]
    table = table[: table.index("</table>")]
    for cell in (
        "学习Notebooks",
        "参加CV/NLP竞赛",
        "LLM竞赛",
        "发布Notebook",
        "基础PyTorch",
        "模型优化",
    ):
        assert f"<td>{cell}</td>" in table
    assert "https://huggingface.co/papers/trending" in page
    assert "<h2>文档维护</h2>" in page and "<h3>16周实践计划</h3>" in page  # zh-Hans by default
