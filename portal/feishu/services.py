"""Writes of the Feishu app: conversations, account binding and notifications.
Side effects run after the transaction commits."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.feishu import conf
from portal.feishu.models import (
    BIND_CODE_LENGTH,
    BIND_CODE_SELECTOR,
    BIND_CODE_TTL,
    Conversation,
    FeishuBinding,
    Notification,
    NotificationStatus,
    NotifyChannel,
    Role,
    Turn,
    normalize_bind_code,
)
from portal.knowledge.llm import ChatMessage

log = logging.getLogger(__name__)

# --- conversations ---------------------------------------------------------------------------


def conversation_for(*, chat_id: str, thread_key: str = "", chat_type: str = "p2p") -> Conversation:
    """The conversation of a chat/thread; one idle past FEISHU_HISTORY_IDLE starts afresh."""
    convo, _created = Conversation.objects.get_or_create(
        chat_id=chat_id, thread_key=thread_key, defaults={"chat_type": chat_type}
    )
    if timezone.now() - convo.last_active_at > timedelta(seconds=conf.history_idle_s()):
        convo.turns.all().delete()
    return convo


def recent_history(conversation: Conversation) -> list[ChatMessage]:
    turns = list(conversation.turns.order_by("-created_at", "-id")[: conf.history_turns() * 2])
    return [{"role": t.role, "content": t.content} for t in reversed(turns)]


@transaction.atomic
def record_exchange(
    *, conversation: Conversation, question: str, answer: str, citations: list[dict[str, Any]]
) -> None:
    now = timezone.now()
    Turn.objects.create(conversation=conversation, role=Role.USER, content=question, created_at=now)
    Turn.objects.create(
        conversation=conversation,
        role=Role.ASSISTANT,
        content=answer,
        citations=citations,
        created_at=now + timedelta(microseconds=1),
    )
    conversation.last_active_at = now
    conversation.save(update_fields=["last_active_at"])


def reset_conversation(*, conversation: Conversation) -> int:
    deleted, _counts = conversation.turns.all().delete()
    return deleted


# --- binding -----------------------------------------------------------------------------------


def binding_for(user: Any) -> FeishuBinding:
    binding, _created = FeishuBinding.objects.get_or_create(user=user)
    return binding


class BindingRefused(Exception):
    """Too many wrong codes from this Feishu user: no code is looked at until later."""


def _bind_failures_key(kind: str, value: str) -> str:
    return f"feishu-bind:{kind}:{value}"


def _count_bind_failure(key: str) -> int:
    # add() starts the window; incr() keeps its expiry.
    cache.add(key, 0, timeout=int(BIND_CODE_TTL.total_seconds()))
    return int(cache.incr(key))


def start_binding(*, user: Any) -> str:
    """A fresh one-time code the user sends to the bot as `/bind CODE`.

    A new code replaces any earlier one; its selector (first characters) is unique
    among pending codes so wrong guesses are counted against exactly one code.
    """
    binding = binding_for(user)
    for _attempt in range(10):
        code = binding.new_bind_code()
        selector = code[:BIND_CODE_SELECTOR]
        pending = FeishuBinding.objects.filter(
            bind_code__startswith=selector, bind_code_expires_at__gt=timezone.now()
        ).exclude(pk=binding.pk)
        if not pending.exists():
            break
    binding.save(update_fields=["bind_code", "bind_code_expires_at"])
    cache.delete(_bind_failures_key("code", code[:BIND_CODE_SELECTOR]))
    return code


@transaction.atomic
def complete_binding(*, code: str, open_id: str, chat_id: str) -> FeishuBinding | None:
    """Link the Feishu user who sent `code`; None when the code is unknown or expired.

    Raises BindingRefused after conf.bind_max_attempts() wrong codes from one open_id
    within the code lifetime. A pending code that receives that many wrong guesses
    (same selector, wrong rest) is burnt: its owner asks for a new one.
    """
    code = normalize_bind_code(code)
    if not open_id:
        return None
    limit = conf.bind_max_attempts()
    sender_key = _bind_failures_key("open_id", open_id)
    if int(cache.get(sender_key, 0)) >= limit:
        raise BindingRefused(open_id)
    if len(code) != BIND_CODE_LENGTH:
        _count_bind_failure(sender_key)
        return None
    selector = code[:BIND_CODE_SELECTOR]
    candidates = FeishuBinding.objects.select_for_update().filter(
        bind_code__startswith=selector, bind_code_expires_at__gt=timezone.now()
    )
    binding = next((b for b in candidates if secrets.compare_digest(b.bind_code, code)), None)
    if binding is None:
        _count_bind_failure(sender_key)
        if candidates and _count_bind_failure(_bind_failures_key("code", selector)) >= limit:
            candidates.update(bind_code="", bind_code_expires_at=None)
        return None
    # One Feishu identity belongs to one portal user.
    FeishuBinding.objects.filter(open_id=open_id).exclude(pk=binding.pk).update(
        open_id="", chat_id=""
    )
    binding.open_id, binding.chat_id = open_id, chat_id
    binding.bind_code, binding.bind_code_expires_at, binding.bound_at = "", None, timezone.now()
    binding.save()
    cache.delete_many([sender_key, _bind_failures_key("code", selector)])
    return binding


def unbind(*, user: Any) -> None:
    FeishuBinding.objects.filter(user=user).update(open_id="", chat_id="", bound_at=None)


def user_for_open_id(open_id: str) -> Any:
    binding = (
        FeishuBinding.objects.select_related("user").filter(open_id=open_id).first()
        if open_id
        else None
    )
    return binding.user if binding else None


# --- notifications ----------------------------------------------------------------------------


def notify_user(
    user: Any,
    text: str | None = None,
    *,
    card: dict[str, Any] | None = None,
    kind: str = "message",
) -> Notification | None:
    """Queue a Feishu message (text or card) to `user`; other apps call this.

    Delivered by the app bot to the bound open_id, or to the user's (or the
    portal's) group webhook. Returns None when the user has no way to be
    reached; otherwise the recorded Notification, which a Celery job sends with
    retries and backoff.
    """
    if not text and card is None:
        raise ValueError("notify_user needs text or a card")
    binding = FeishuBinding.objects.filter(user=user).first()
    channel = _channel_for(binding)
    if channel is None:
        log.info("notification %s for %s not sent: no Feishu binding or webhook", kind, user)
        return None
    with transaction.atomic():
        notification = Notification.objects.create(
            user=user, kind=kind, text=text or "", card=card, channel=channel
        )
        from portal.feishu.tasks import send_notification_task

        transaction.on_commit(
            lambda: send_notification_task.apply_async(args=[notification.pk], queue=conf.queue())
        )
    return notification


def _channel_for(binding: FeishuBinding | None) -> str | None:
    webhook = bool((binding and binding.webhook_url) or conf.webhook_url())
    if binding and binding.channel == NotifyChannel.WEBHOOK and webhook:
        return NotifyChannel.WEBHOOK
    if binding and binding.is_bound and conf.bot_enabled():
        return NotifyChannel.BOT
    if webhook:
        return NotifyChannel.WEBHOOK
    return None


def deliver_notification(notification: Notification) -> None:
    """One delivery attempt; raises FeishuError for the caller to retry."""
    from portal.feishu import client

    binding = FeishuBinding.objects.filter(user_id=notification.user_id).first()
    text = notification.text or None
    card = notification.card
    if notification.channel == NotifyChannel.BOT:
        if binding is None or not binding.open_id:
            raise client.FeishuError("the user is no longer bound to a Feishu account")
        client.send_message(
            receive_id=binding.open_id,
            receive_id_type="open_id",
            text=text,
            card=card,
            # its retries are one message; the time tells apart ids a restored database reuses
            uuid=client.idempotency_key(
                "notify", notification.pk, int(notification.created_at.timestamp() * 1000)
            ),
        )
    else:
        url = (binding.webhook_url if binding else "") or conf.webhook_url()
        secret = (binding.webhook_secret if binding and binding.webhook_url else "") or (
            conf.webhook_secret() if not (binding and binding.webhook_url) else ""
        )
        if not url:
            raise client.FeishuError("no webhook URL is configured")
        client.send_webhook(url=url, secret=secret, text=text, card=card)


def record_attempt(notification: Notification, *, error: str | None, final: bool) -> None:
    notification.attempts += 1
    if error is None:
        notification.status, notification.sent_at, notification.last_error = (
            NotificationStatus.SENT,
            timezone.now(),
            "",
        )
    else:
        notification.status = NotificationStatus.FAILED if final else NotificationStatus.RETRYING
        notification.last_error = error[:2000]
    notification.save(update_fields=["attempts", "status", "sent_at", "last_error"])


def notify_event(
    user: Any, *, kind: str, title: str, markdown: str, url: str = ""
) -> Notification | None:
    """A progress event (a phase completed, a lab run finished or failed) as a card.

    Only for users who set up Feishu (a binding row) and kept "lab and phase events"
    on; `url` (a portal path or absolute URL) becomes an "Open in portal" button.
    """
    from portal.feishu import client
    from portal.feishu.conf import absolute

    binding = FeishuBinding.objects.filter(user=user).first()
    if binding is None or not binding.notify_events:
        return None
    buttons = [client.link_button(_("Open in portal"), absolute(url))] if url else None
    failed = "fail" in kind
    card = client.card(
        title=title, markdown=markdown, buttons=buttons, template="red" if failed else "green"
    )
    return notify_user(user, card=card, kind=kind)


RUN_NOTIFY_STATUSES = {"succeeded": "lab_run_finished", "failed": "lab_run_failed"}


def _result_lines(run: Any, limit: int = 8) -> list[str]:
    """The first few scalar figures of a run's typed result ("perplexity: 65.7"), for a
    notification; a result its lab's model cannot read gives none."""
    from pydantic import ValidationError

    try:
        result = run.typed_result
    except ValidationError:
        return []
    if result is None:
        return []
    lines = []
    for key, value in result.summary().items():
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            continue
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        if len(text) <= 60:
            lines.append(f"- {key}: {text}")
        if len(lines) == limit:
            break
    return lines


def notify_run_finished(*, run: Any) -> Notification | None:
    """Tell the owner that a lab run succeeded or failed (a lost run counts as failed)."""
    from django.urls import reverse

    status = "failed" if run.status == "lost" else str(run.status)
    kind = RUN_NOTIFY_STATUSES.get(status)
    if kind is None:
        return None  # cancelled: the owner asked for it
    lab = run.lab
    name = lab.title if lab else run.lab_id
    if status == "succeeded":
        title = _("Lab run #%(id)s finished: %(lab)s") % {"id": run.pk, "lab": name}
    else:
        title = _("Lab run #%(id)s failed: %(lab)s") % {"id": run.pk, "lab": name}
    lines = []
    if run.duration_s is not None:
        lines.append(
            _("Took %(s)s s on %(worker)s.")
            % {"s": f"{run.duration_s:.1f}", "worker": run.worker or "?"}
        )
    if run.error:
        lines += ["", "**" + _("Error") + "**", run.error[:1000]]
    results = _result_lines(run)
    if results:
        lines += ["", "**" + _("Results") + "**", *results]
    if status == "succeeded":
        lines += ["", _("The report is in your knowledge base: ask the bot about it.")]
    return notify_event(
        run.owner,
        kind=kind,
        title=title,
        markdown="\n".join(lines),
        url=reverse("labs:run", args=[run.pk]),
    )


def notify_phase_done(*, user: Any, phase: Any) -> Notification | None:
    """Congratulate the user on ticking every task of a phase; once per phase."""
    from django.urls import reverse

    from portal.curriculum.models import Phase

    title = _("Phase %(number)s complete: %(title)s") % {
        "number": phase.number,
        "title": phase.title,
    }
    already = Notification.objects.filter(user=user, kind="phase_done").filter(
        card__header__title__content=title
    )
    if already.exists():
        return None
    lines = [
        _("Every task of weeks %(first)s-%(last)s is ticked.")
        % {"first": phase.first_week, "last": phase.last_week},
        _("Milestone: %(milestone)s") % {"milestone": phase.milestone},
    ]
    following = Phase.objects.filter(archived=False, number__gt=phase.number).first()
    if following is not None:
        lines.append(
            _("Next: %(title)s, from week %(week)s.")
            % {"title": following.title, "week": following.first_week}
        )
    return notify_event(
        user,
        kind="phase_done",
        title=title,
        markdown="\n".join(lines),
        url=reverse("curriculum:index"),
    )
