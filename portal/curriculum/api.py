"""/api/curriculum/: the plan, the checklist, progress and weekly reviews, for the signed-in user."""

from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse
from ninja import Router, Status

from portal.core.schemas import ErrorOut
from portal.curriculum.exports import review_markdown, reviews_markdown
from portal.curriculum.models import WEEKS, Item, WeeklyReview
from portal.curriculum.progress import checklist, compute_progress, start_date_for, weeks_for_api
from portal.curriculum.schemas import (
    ItemDoneIn,
    ItemOut,
    ProgressOut,
    ReviewIn,
    ReviewOut,
    StartDateIn,
    WeekOut,
)
from portal.curriculum.services import save_review, set_item_done, set_start_date

router = Router()


def _bad_week(week: int) -> Status | None:
    if not 1 <= week <= WEEKS:
        return Status(
            HTTPStatus.NOT_FOUND, {"detail": f"No week {week}: the plan has weeks 1-{WEEKS}"}
        )
    return None


def _item_out(item: Item) -> dict:
    return {
        "id": item.pk,
        "slug": item.slug,
        "kind": item.kind,
        "week": item.week.number if item.week else None,
        "group": item.group,
        "title": item.title,
        "category": item.category,
        "done": item.is_done,
        "done_at": item.done_time,
    }


def _review_out(review: WeeklyReview) -> dict:
    return {
        "week": review.week,
        "completed": review.completed,
        "problems": review.problems,
        "next_plan": review.next_plan,
        "hours": review.hours,
        "created_at": review.created_at,
        "updated_at": review.updated_at,
    }


@router.get("/weeks", response=list[WeekOut])
def list_weeks(request: HttpRequest):
    """The 16 weeks with their phase, title and goals (dates when a start date is set)."""
    return weeks_for_api(request.user)


@router.get("/checklist", response={200: list[ItemOut], 404: ErrorOut})
def get_checklist(request: HttpRequest, kind: str | None = None, week: int | None = None):
    """Every active item (week tasks and core goals) with the user's `done` flag."""
    if week is not None and (bad := _bad_week(week)):
        return bad
    if kind is not None and kind not in {"task", "skill", "output"}:
        return Status(
            HTTPStatus.NOT_FOUND, {"detail": f"Unknown kind {kind!r}: task, skill or output"}
        )
    items = checklist(request.user, kind=kind, week=week)
    return [_item_out(i) for i in items]


@router.put("/items/{item_id}", response={200: ItemOut, 404: ErrorOut})
def put_item(request: HttpRequest, item_id: int, payload: ItemDoneIn):
    """Tick (`{"done": true}`) or untick an item; the time of the tick is stored."""
    item = Item.objects.active().filter(pk=item_id).select_related("week").first()
    if item is None:
        return Status(HTTPStatus.NOT_FOUND, {"detail": f"No item {item_id}"})
    set_item_done(user=request.user, item=item, done=payload.done)
    item = checklist(request.user).get(pk=item.pk)
    return _item_out(item)


@router.get("/progress", response=ProgressOut)
def progress(request: HttpRequest):
    """Overall and per-phase completion, core goals, hours, streak and the on-track figure."""
    return compute_progress(request.user).as_api()


@router.put("/start", response=StartDateIn)
def put_start(request: HttpRequest, payload: StartDateIn):
    """Set the date week 1 starts; the on-track figure is computed from it."""
    plan = set_start_date(user=request.user, start_date=payload.start_date)
    return {"start_date": plan.start_date}


@router.get("/reviews", response=list[ReviewOut])
def list_reviews(request: HttpRequest):
    """All of the user's weekly reviews, by week."""
    return [_review_out(r) for r in WeeklyReview.objects.filter(user=request.user)]


@router.get("/reviews.md", response={200: None})
def reviews_md(request: HttpRequest):
    """All reviews as one Markdown document in the 每周复盘 template."""
    body = reviews_markdown(
        WeeklyReview.objects.filter(user=request.user), start_date_for(request.user)
    )
    return _markdown(body, "weekly-reviews.md")


@router.get("/reviews/{week}.md", response={200: None, 404: ErrorOut})
def review_md(request: HttpRequest, week: int):
    """One week's review as Markdown in the 每周复盘 template."""
    if bad := _bad_week(week):
        return bad
    review = WeeklyReview.objects.of_week(request.user, week).first()
    if review is None:
        return Status(HTTPStatus.NOT_FOUND, {"detail": f"No review for week {week} yet"})
    body = review_markdown(review, start_date_for(request.user))
    return _markdown(body, f"week-{week:02d}-review.md")


@router.get("/reviews/{week}", response={200: ReviewOut, 404: ErrorOut})
def get_review(request: HttpRequest, week: int):
    """The user's review of one week."""
    if bad := _bad_week(week):
        return bad
    review = WeeklyReview.objects.of_week(request.user, week).first()
    if review is None:
        return Status(HTTPStatus.NOT_FOUND, {"detail": f"No review for week {week} yet"})
    return _review_out(review)


@router.put("/reviews/{week}", response={200: ReviewOut, 201: ReviewOut, 404: ErrorOut})
def put_review(request: HttpRequest, week: int, payload: ReviewIn):
    """Create or replace the review of one week (one per user per week)."""
    if bad := _bad_week(week):
        return bad
    review, created = save_review(user=request.user, week=week, review=payload)
    return Status(HTTPStatus.CREATED if created else HTTPStatus.OK, _review_out(review))


def _markdown(body: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
