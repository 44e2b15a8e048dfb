"""Feishu conversations, received events, account bindings and outgoing notifications.

The knowledge base (documents and chunks) lives in portal.knowledge."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# --- Feishu conversations -------------------------------------------------------------------


class Conversation(models.Model):
    """Multi-turn context for one chat (and thread, when the message is in one)."""

    chat_id = models.CharField(max_length=100)
    thread_key = models.CharField(max_length=100, blank=True)
    chat_type = models.CharField(max_length=20, default="p2p")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_active_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["chat_id", "thread_key"], name="feishu_conversation_chat_thread_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.chat_id}/{self.thread_key or '-'}"


class Role(models.TextChoices):
    USER = "user", _("User")
    ASSISTANT = "assistant", _("Assistant")


class Turn(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField()
    citations = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The last N turns of a conversation.
            models.Index(fields=["conversation", "-created_at"], name="feishu_turn_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class EventStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    DONE = "done", _("Done")
    IGNORED = "ignored", _("Ignored")
    FAILED = "failed", _("Failed")


class FeishuEvent(models.Model):
    """Every event Feishu delivered, keyed by `header.event_id`: Feishu retries, we answer once."""

    event_id = models.CharField(max_length=100, unique=True)
    event_type = models.CharField(max_length=100)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=EventStatus.choices, default=EventStatus.RECEIVED
    )
    deliveries = models.PositiveIntegerField(default=1)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    # Set by the relay (portal.feishu.relay) when it queues the event's job; empty again if
    # queueing failed. The table is the outbox: an event with none is still to be queued.
    queued_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            # The relay's sweep: the few events stored and not yet queued, among all.
            models.Index(
                fields=["id"],
                name="feishu_event_to_queue",
                condition=models.Q(status="received", queued_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return self.event_id


# --- Bindings and notifications --------------------------------------------------------------


class NotifyChannel(models.TextChoices):
    BOT = "bot", _("Direct message from the app bot")
    WEBHOOK = "webhook", _("Group custom-bot webhook")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


BIND_CODE_TTL = timedelta(minutes=15)
# Codes are typed by hand: upper-case letters and digits without the look-alikes
# (0/O, 1/I/L, U/V). 29 symbols; 12 of them carry about 58 bits.
BIND_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
BIND_CODE_LENGTH = 12
# The first characters select the pending code, the rest must then match: wrong
# guesses against a selected code are counted per code (services.complete_binding).
BIND_CODE_SELECTOR = 4


def normalize_bind_code(raw: str) -> str:
    return "".join(ch for ch in raw.upper() if ch not in " -\t")


class FeishuBinding(models.Model):
    """A portal user's Feishu identity and notification preferences."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feishu_binding"
    )
    open_id = models.CharField(_("Feishu open_id"), max_length=100, blank=True)
    chat_id = models.CharField(_("Feishu chat_id"), max_length=100, blank=True)
    bind_code = models.CharField(max_length=12, blank=True)
    bind_code_expires_at = models.DateTimeField(null=True, blank=True)
    bound_at = models.DateTimeField(null=True, blank=True)
    channel = models.CharField(
        _("deliver through"),
        max_length=10,
        choices=NotifyChannel.choices,
        default=NotifyChannel.BOT,
    )
    webhook_url = models.CharField(
        _("group webhook URL"),
        max_length=500,
        blank=True,
        help_text=_("Leave empty to use the portal's FEISHU_WEBHOOK_URL."),
    )
    webhook_secret = models.CharField(_("group webhook signing secret"), max_length=200, blank=True)
    digest_enabled = models.BooleanField(_("weekly digest"), default=True)
    digest_weekday = models.PositiveSmallIntegerField(
        _("digest day"), choices=Weekday.choices, default=Weekday.SUNDAY
    )
    digest_hour = models.PositiveSmallIntegerField(_("digest hour (local time)"), default=20)
    last_digest_at = models.DateTimeField(null=True, blank=True)
    notify_events = models.BooleanField(_("lab and phase events"), default=True)
    review_reminder = models.BooleanField(
        _("weekly review reminder"),
        default=True,
        help_text=_("At the digest day and hour, remind me when the week's review is missing."),
    )
    last_review_reminder_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user} ↔ {self.open_id or '?'}"

    @property
    def is_bound(self) -> bool:
        return bool(self.open_id)

    def new_bind_code(self) -> str:
        self.bind_code = "".join(
            secrets.choice(BIND_CODE_ALPHABET) for _ in range(BIND_CODE_LENGTH)
        )
        self.bind_code_expires_at = timezone.now() + BIND_CODE_TTL
        return self.bind_code


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RETRYING = "retrying", _("Retrying")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class NotificationQuerySet(models.QuerySet["Notification"]):
    def for_user(self, user: object) -> NotificationQuerySet:
        return self.filter(user_id=getattr(user, "pk", None))


class Notification(models.Model):
    """One outgoing message; every attempt and its error is recorded."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feishu_notifications"
    )
    kind = models.CharField(max_length=40, default="message")
    text = models.TextField(blank=True)
    card = models.JSONField(null=True, blank=True)
    channel = models.CharField(max_length=10, choices=NotifyChannel.choices)
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The settings page's "recent notifications" list.
            models.Index(fields=["user", "-created_at"], name="feishu_notif_user_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.user} ({self.status})"
