from __future__ import annotations

from http import HTTPStatus
from itertools import groupby
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.core.htmx import HtmxHttpRequest
from portal.core.pagecache import cached_page
from portal.curriculum.evidence import lab_link, paper_url
from portal.curriculum.exports import portfolio_markdown, review_markdown, reviews_markdown
from portal.curriculum.forms import ItemToggleForm, ReviewForm, StartDateForm
from portal.curriculum.models import (
    WEEKS,
    GuideEntry,
    GuideSection,
    HourCategory,
    Item,
    ItemKind,
    Phase,
    Week,
    WeeklyReview,
)
from portal.curriculum.plan import plan_structure
from portal.curriculum.progress import (
    Progress,
    checklist,
    compute_progress,
    current_week,
    start_date_for,
    week_start,
)
from portal.curriculum.services import save_review, set_item_done, set_start_date
from portal.curriculum.skills import skill_evidence


def _get_week(number: int) -> Week:
    week = plan_structure().week(number)
    if week is None:
        raise Http404(f"No week {number}: the plan has weeks 1-{WEEKS}")
    return week


def _get_item(pk: int) -> Item:
    item = Item.objects.active().select_related("week").filter(pk=pk).first()
    if item is None:
        raise Http404("No such item")
    return item


def _charts(progress: Progress) -> dict[str, Any]:
    """Chart.js data for the progress charts (read by static/curriculum/charts.js)."""
    categories = list(HourCategory)
    return {
        "phases": {
            "labels": [p.title for p in progress.phases],
            "done": [p.percent for p in progress.phases],
        },
        "hours": {
            "labels": [c.label_zh for c in categories],
            "actual": [progress.hours_share[c.value] for c in categories],
            "planned": [c.planned_share for c in categories],
            "hours": [progress.hours[c.value] for c in categories],
        },
        "weeks": {
            "labels": [f"W{n}" for n in progress.weeks],
            "done": [w.done for w in progress.weeks.values()],
            "total": [w.total for w in progress.weeks.values()],
        },
    }


def _progress_context(request: HttpRequest) -> dict[str, Any]:
    progress = compute_progress(request.user)
    return {"progress": progress, "charts": _charts(progress)}


def dashboard_panel_context(request: HttpRequest) -> dict[str, Any]:
    return _progress_context(request)


def _labs(ids: list[str]) -> list[Any]:
    return [lab_link(lab) for lab in ids]


def _decorate(items: list[Item]) -> list[Item]:
    """Attach soft links to labs and papers for the item partial (no queries)."""
    for item in items:
        item.lab_links = _labs(item.labs)  # type: ignore[attr-defined]
        item.paper_links = [  # type: ignore[attr-defined]
            {"arxiv_id": a, "url": paper_url(a)} for a in item.papers
        ]
    return items


@require_GET
@login_required
@cached_page
def index(request: HtmxHttpRequest) -> HttpResponse:
    today = timezone.localdate()
    progress = _progress_context(request)
    start = progress["progress"].start_date  # read once, with the progress
    now = current_week(start, today)
    tallies = progress["progress"].weeks
    phases = [
        {
            "phase": phase,
            "weeks": [
                {
                    "week": w,
                    "start": week_start(start, w.number) if start else None,
                    "tally": tallies.get(w.number),
                }
                for w in ws
            ],
        }
        for phase, ws in groupby(plan_structure().weeks, key=lambda w: w.phase)
    ]
    context = {
        "phases": phases,
        "current": now,
        "start": start,
        "start_form": StartDateForm(initial={"start_date": start or today}),
        **progress,
    }
    return render(request, "curriculum/index.html", context)


@require_POST
@login_required
def start(request: HttpRequest) -> HttpResponse:
    form = StartDateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a valid start date."))
        return redirect("curriculum:index")
    set_start_date(user=request.user, start_date=form.cleaned_data["start_date"])
    messages.success(request, _("Start date saved."))
    return redirect("curriculum:index")


@require_GET
@login_required
@cached_page
def week_detail(request: HtmxHttpRequest, number: int) -> HttpResponse:
    week = _get_week(number)
    items = _decorate(list(checklist(request.user, kind=ItemKind.TASK, week=number)))
    groups = [(g, list(its)) for g, its in groupby(items, key=lambda i: i.group)]
    progress = _progress_context(request)
    start = progress["progress"].start_date  # read once, with the progress
    context = {
        "week": week,
        "groups": groups,
        "done": sum(1 for i in items if i.is_done),
        "total": len(items),
        "start": week_start(start, number) if start else None,
        "is_current": current_week(start, timezone.localdate()) == number,
        "project_lab": lab_link(week.project["lab"]) if week.project.get("lab") else None,
        "labs": _labs(week.labs),
        "readings": [{**r, "url": paper_url(r["arxiv_id"])} for r in week.readings],
        "prev_week": number - 1 if number > 1 else None,
        "next_week": number + 1 if number < WEEKS else None,
        "has_review": WeeklyReview.objects.of_week(request.user, number).exists(),
        **progress,
    }
    return render(request, "curriculum/week.html", context)


@require_GET
@login_required
def goals(request: HtmxHttpRequest) -> HttpResponse:
    items = _decorate(
        list(checklist(request.user).filter(kind__in=[ItemKind.SKILL, ItemKind.OUTPUT]))
    )
    sections = []
    for kind in (ItemKind.SKILL, ItemKind.OUTPUT):
        mine = [i for i in items if i.kind == kind]
        sections.append(
            {
                "kind": kind,
                "groups": [(g, list(its)) for g, its in groupby(mine, key=lambda i: i.group)],
                "done": sum(1 for i in mine if i.is_done),
                "total": len(mine),
            }
        )
    context = {
        "sections": sections,
        **_progress_context(request),
    }
    return render(request, "curriculum/goals.html", context)


@require_POST
@login_required
def toggle_item(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    item = _get_item(pk)
    form = ItemToggleForm(request.POST)
    form.is_valid()  # a BooleanField cannot be invalid; absent means "not done"
    set_item_done(user=request.user, item=item, done=form.cleaned_data.get("done", False))
    if request.htmx:
        fresh = _decorate([checklist(request.user).get(pk=item.pk)])[0]
        context = {
            "item": fresh,
            "oob": True,
            **_progress_context(request),
        }
        return render(request, "curriculum/partials.html#toggle-response", context)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = ""
    if target:
        return redirect(target)
    if item.week_id:
        return redirect("curriculum:week", number=item.week.number)
    return redirect("curriculum:goals")


@require_GET
@login_required
def reviews(request: HttpRequest) -> HttpResponse:
    mine = list(WeeklyReview.objects.filter(user=request.user))
    by_week = {r.week: r for r in mine}
    start = start_date_for(request.user)
    rows = [
        {
            "week": w,
            "review": by_week.get(w.number),
            "start": week_start(start, w.number) if start else None,
        }
        for w in Week.objects.active()
    ]
    totals = {c.value: sum(r.hours[c.value] for r in mine) for c in HourCategory}
    return render(
        request,
        "curriculum/reviews.html",
        {"rows": rows, "count": len(mine), "totals": totals, "categories": list(HourCategory)},
    )


@require_http_methods(["GET", "POST"])
@login_required
def review_edit(request: HttpRequest, number: int) -> HttpResponse:
    week = _get_week(number)
    review = WeeklyReview.objects.of_week(request.user, number).first()
    if request.method == "POST":
        form = ReviewForm(request.POST)
        if form.is_valid():
            save_review(user=request.user, week=number, review=form.review)
            messages.success(request, _("Review of week %(n)s saved.") % {"n": number})
            return redirect("curriculum:review", number=number)
        status = HTTPStatus.BAD_REQUEST
    else:
        form = ReviewForm.for_review(review)
        status = HTTPStatus.OK
    context = {
        "week": week,
        "review": review,
        "form": form,
        "markdown": review_markdown(review, start_date_for(request.user)) if review else "",
    }
    return render(request, "curriculum/review_form.html", context, status=status)


def _markdown_download(body: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@login_required
def review_markdown_view(request: HttpRequest, number: int) -> HttpResponse:
    _get_week(number)
    review = WeeklyReview.objects.of_week(request.user, number).first()
    if review is None:
        raise Http404("No review for this week yet")
    body = review_markdown(review, start_date_for(request.user))
    return _markdown_download(body, f"week-{number:02d}-review.md")


@require_GET
@login_required
def reviews_markdown_view(request: HttpRequest) -> HttpResponse:
    body = reviews_markdown(
        WeeklyReview.objects.filter(user=request.user), start_date_for(request.user)
    )
    return _markdown_download(body, "weekly-reviews.md")


@require_GET
@login_required
def skills(request: HttpRequest) -> HttpResponse:
    evidence, papers_read = skill_evidence(request.user)
    groups = [(g, list(s)) for g, s in groupby(evidence, key=lambda s: s.group)]
    return render(
        request,
        "curriculum/skills.html",
        {"groups": groups, "papers_read": papers_read, "count": len(evidence)},
    )


@require_GET
@login_required
def skills_markdown(request: HttpRequest) -> HttpResponse:
    evidence, papers_read = skill_evidence(request.user)
    body = portfolio_markdown(request.user.get_username(), evidence, papers_read)
    return _markdown_download(body, "portfolio.md")


@require_GET
@login_required
def guide(request: HttpRequest) -> HttpResponse:
    entries = list(GuideEntry.objects.filter(archived=False))
    sections = {s.value: [e for e in entries if e.section == s.value] for s in GuideSection}
    phases = list(Phase.objects.filter(archived=False))
    lists = [
        (s.label, sections[s.value])
        for s in GuideSection
        if s not in (GuideSection.FAQ, GuideSection.TIME_SPLIT, GuideSection.MAINTENANCE)
    ]
    return render(
        request,
        "curriculum/guide.html",
        {
            "sections": sections,
            "section_labels": dict(GuideSection.choices),
            "lists": lists,
            "phases": phases,
        },
    )
