"""The weekly progress digest and the weekly-review reminder, sent by the hourly beat job
at each user's chosen day and hour."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _

from portal.feishu import client, sources
from portal.feishu.conf import absolute
from portal.feishu.models import FeishuBinding, Turn
from portal.feishu.services import notify_user

# Beat runs hourly; a message already sent within this window is not sent again.
RESEND_AFTER = timedelta(days=6)


def digest_card(user: Any, *, now: datetime) -> dict[str, Any]:
    week_ago = now - timedelta(days=7)
    progress = sources.progress_summary(user) or _("no checklist yet")
    week = sources.week_summary(user, today=now.date()) or _("The curriculum is not loaded yet.")
    papers = sources.next_papers(user, limit=3)
    review = sources.last_review_summary(user) or _("No weekly review written yet.")
    questions = Turn.objects.filter(
        conversation__user=user, role="user", created_at__gte=week_ago
    ).count()
    lines = [
        "**" + _("Progress") + "**",
        progress,
        "",
        "**" + _("Last weekly review") + "**",
        review,
        "",
        "**" + _("Questions asked this week") + f"**: {questions}",
        "",
        "**" + _("Due now") + "**",
        week,
    ]
    if papers:
        lines += ["", "**" + _("Next papers") + "**", *[f"- {p}" for p in papers]]
    return client.card(
        title=_("Weekly digest"),
        markdown="\n".join(lines),
        buttons=[client.link_button(_("Open in portal"), absolute(reverse("dashboard")))],
    )


def review_reminder_card(due: sources.ReviewDue) -> dict[str, Any]:
    lines = [
        _("Your review of week %(week)s (%(title)s) is not written yet.")
        % {"week": due.week, "title": due.title}
    ]
    if due.done_tasks:
        lines += [
            "",
            "**" + _("Tasks you ticked that week") + "**",
            *[f"- {t}" for t in due.done_tasks[:10]],
        ]
    return client.card(
        title=_("Weekly review reminder"),
        markdown="\n".join(lines),
        template="orange",
        buttons=[client.link_button(_("Write the review"), absolute(due.url))],
    )


def _recent(last: datetime | None, now: datetime) -> bool:
    return last is not None and now - last < RESEND_AFTER


def send_due_digests(*, now: datetime) -> int:
    """Queue the digest, and the review reminder when a review is missing, for every
    binding due at `now` (local time); each at most once a week. Returns how many
    notifications were queued."""
    sent = 0
    due = FeishuBinding.objects.select_related("user").filter(
        Q(digest_enabled=True) | Q(review_reminder=True),
        digest_weekday=now.weekday(),
        digest_hour=now.hour,
    )
    for binding in due:
        user = binding.user
        if binding.digest_enabled and not _recent(binding.last_digest_at, now):
            if notify_user(user, card=digest_card(user, now=now), kind="digest"):
                binding.last_digest_at = now
                binding.save(update_fields=["last_digest_at"])
                sent += 1
        if binding.review_reminder and not _recent(binding.last_review_reminder_at, now):
            missing = sources.review_due(user, now.date())
            if missing is not None and notify_user(
                user, card=review_reminder_card(missing), kind="review_reminder"
            ):
                binding.last_review_reminder_at = now
                binding.save(update_fields=["last_review_reminder_at"])
                sent += 1
    return sent
