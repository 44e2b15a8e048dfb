"""Markdown exports: weekly reviews in the overview's 每周复盘 template, and the skills portfolio."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.utils import timezone

from portal.curriculum.models import HourCategory, WeeklyReview
from portal.curriculum.progress import week_start

if TYPE_CHECKING:
    from portal.curriculum.skills import SkillEvidence


def _one_line(text: str) -> str:
    return " ".join(text.split())


def review_dates(review: WeeklyReview, start: dt.date | None) -> str:
    if start is not None:
        first = week_start(start, review.week)
        return f"{first:%Y-%m-%d} ~ {first + dt.timedelta(days=6):%Y-%m-%d}"
    return f"{timezone.localtime(review.updated_at):%Y-%m-%d}"


def review_markdown(review: WeeklyReview, start: dt.date | None) -> str:
    lines = [f"## 第{review.week}周复盘 ({review_dates(review, start)})", "", "### 本周完成"]
    lines += [f"- [x] {_one_line(t)}" for t in review.completed] or ["- （无）"]
    lines += ["", "### 遇到的问题"]
    for n, p in enumerate(review.problems, start=1):
        lines.append(f"- 问题{n}：{_one_line(p['problem'])}")
        lines.append(f"  - 解决方案：{_one_line(p.get('solution') or '待解决')}")
    if not review.problems:
        lines.append("- （无）")
    lines += ["", "### 下周计划"]
    lines += [f"- [ ] {_one_line(t)}" for t in review.next_plan] or ["- （无）"]
    lines += ["", "### 学习时间"]
    total = review.total_hours
    for c in HourCategory:
        h = review.hours[c.value]
        share = f"{100 * h / total:.0f}%" if total else "0%"
        lines.append(f"- {c.label_zh}：{h:g} 小时（{share}，计划 {c.planned_share}%）")
    lines.append(f"- 合计：{total:g} 小时")
    return "\n".join(lines) + "\n"


def reviews_markdown(reviews: Iterable[WeeklyReview], start: dt.date | None) -> str:
    parts = ["# 每周复盘", ""]
    parts += [review_markdown(r, start) for r in reviews]
    return "\n".join(parts)


def portfolio_markdown(username: str, skills: list[SkillEvidence], papers_read: int | None) -> str:
    lines = [
        f"# 技术能力作品集 — {username}",
        "",
        f"生成于 {timezone.localdate():%Y-%m-%d}，来自 AI 芯片求职备战平台的 16 周学习记录。",
        "",
    ]
    if papers_read is not None:
        lines += [f"已读核心论文：{papers_read} 篇（目标 20+）", ""]
    group = None
    for s in skills:
        if s.group != group:
            group = s.group
            lines += [f"## {group}", ""]
        mark = "x" if s.done else " "
        lines.append(f"### [{mark}] {s.title}")
        if s.detail:
            lines.append(f"{_one_line(s.detail)}")
        if s.tasks:
            lines.append("- 完成的学习任务：")
            lines += [f"  - 第{t.week}周 {t.title}" for t in s.tasks]
        if s.runs:
            lines.append("- 实验记录：")
            lines += [
                f"  - {r.lab_title} 运行 #{r.run.run_id}（{r.run.status}）"
                + (f" {r.run.url}" if r.run.url else "")
                for r in s.runs
            ]
        if s.papers:
            lines.append("- 读过的论文：")
            lines += [f"  - {p.title} (arXiv:{p.arxiv_id}) {p.url}" for p in s.papers]
        if not (s.tasks or s.runs or s.papers):
            lines.append("- 尚无记录")
        lines.append("")
    return "\n".join(lines)
