"""The weekly progress digest (sent by beat at each user's chosen day and hour)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils.translation import gettext as _

from portal.feishu import client, conf, sources
from portal.feishu.models import FeishuBinding, Turn
from portal.feishu.services import notify_user


def digest_card(user: Any, *, now: datetime) -> dict[str, Any]:
    week_ago = now - timedelta(days=7)
    progress = sources.progress_summary(user) or _("no checklist yet")
    week = sources.week_summary(user) or _("The curriculum is not loaded yet.")
    papers = sources.next_papers(user, limit=3)
    questions = Turn.objects.filter(
        conversation__user=user, role="user", created_at__gte=week_ago
    ).count()
    progress_label = _("Progress")
    questions_label = _("Questions asked this week")
    due_label = _("Due now")
    papers_label = _("Next papers")
    lines = [
        f"**{progress_label}**: {progress}",
        f"**{questions_label}**: {questions}",
        "",
        f"**{due_label}**",
        week,
    ]
    if papers:
        lines += ["", f"**{papers_label}**", *[f"- {p}" for p in papers]]
    return client.card(
        title=_("Weekly digest"),
        markdown="\n".join(lines),
        buttons=[client.link_button(_("Open in portal"), conf.portal_base_url() + "/dashboard/")],
    )


def send_due_digests(*, now: datetime) -> int:
    """Queue a digest for every binding due at `now` (local time); at most one per 6 days."""
    sent = 0
    due = FeishuBinding.objects.select_related("user").filter(
        digest_enabled=True, digest_weekday=now.weekday(), digest_hour=now.hour
    )
    for binding in due:
        if binding.last_digest_at and now - binding.last_digest_at < timedelta(days=6):
            continue
        if notify_user(binding.user, card=digest_card(binding.user, now=now), kind="digest"):
            binding.last_digest_at = now
            binding.save(update_fields=["last_digest_at"])
            sent += 1
    return sent
