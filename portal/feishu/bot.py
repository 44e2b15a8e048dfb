"""What the bot does with a Feishu message: commands, or a knowledge-base answer."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from portal.feishu import client, conf, services, sources
from portal.feishu.conf import absolute
from portal.feishu.schemas import CardAction, MessageEvent
from portal.knowledge.answering import Answer, answer_question, indexing_notice, unmentioned_text

log = logging.getLogger(__name__)

_MENTION_KEY = re.compile(r"@_user_\d+|@_all")


def own_open_id() -> str:
    """The bot's open_id: FEISHU_BOT_OPEN_ID, else what the open platform says (cached);
    "" when neither is known."""
    configured = conf.bot_open_id()
    if configured:
        return configured
    try:
        return client.bot_info_open_id()
    except client.FeishuError as exc:
        log.warning("the bot's own open_id is unknown: %s", exc)
        return ""


def is_addressed_to_bot(event: MessageEvent) -> bool:
    """Private chats always; groups only when the bot itself is @-mentioned.

    When the bot's open_id cannot be learned, group messages are not answered: a
    mention of someone else must never count as one of the bot.
    """
    if event.chat_type == "p2p":
        return True
    mentions = [m for m in event.mentions if m.key != "@_all"]
    if not mentions:
        return False
    bot = own_open_id()
    return bool(bot) and any(m.id.open_id == bot for m in mentions)


def strip_mentions(text: str) -> str:
    return re.sub(r"\s+", " ", _MENTION_KEY.sub(" ", text)).strip()


HELP = (
    "/help — this help\n"
    "/progress — your plan progress\n"
    "/week — this week's goals and tasks\n"
    "/papers — the next papers to read\n"
    "/reset — forget this conversation\n"
    "/bind CODE — link your portal account (code from the portal's Feishu settings page)\n"
    "Anything else is answered from the knowledge base, with sources."
)


def answer_card(answer: Answer, *, question: str, event: MessageEvent) -> dict[str, Any]:
    """The answer as a card: the quoted sentences, each with its numbered source link."""
    urls = {c.index: absolute(c.url) for c in answer.citations}
    if answer.mode == "quote" and answer.quotes:
        # "…是 Milvus 吗？": the plan's answer, after the name it never mentions
        lines = [unmentioned_text(answer.unmentioned)] if answer.unmentioned else []
        lines += [f"> {q.text} [[{q.citation}]]({urls[q.citation]})" for q in answer.quotes]
        if answer.indexing:
            lines.append(indexing_notice(answer.indexing))
    elif not answer.found:
        lines = [_("I could not find this in the knowledge base.")]
        if answer.unmentioned:
            lines.append(unmentioned_text(answer.unmentioned))
        lines += [f"- [{link.title}]({absolute(link.url)})" for link in answer.links]
    else:
        lines = [answer.text]
    if answer.citations:
        lines.append("\n**" + _("Sources") + "**")
        for c in answer.citations:
            label = f"{c.title} — {c.section}" if c.section else c.title
            lines.append(f"{c.index}. [{label}]({urls[c.index]})")
    ask_url = absolute(reverse("knowledge:index")) + "?" + _query(q=question)
    return client.card(
        title=_("Knowledge base"),
        markdown="\n".join(lines),
        template="blue" if answer.found else "grey",
        buttons=[
            client.link_button(_("Open in portal"), ask_url),
            client.callback_button(
                _("New conversation"),
                {"action": "reset", "chat_id": event.chat_id, "thread_key": event.thread_key},
            ),
        ],
    )


def _query(**params: str) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


def _text_card(
    title: str, markdown: str, buttons: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return client.card(title=title, markdown=markdown, buttons=buttons)


def handle_message(event: MessageEvent) -> dict[str, Any] | None:
    """The card to reply with, or None when the message is not for the bot."""
    if not is_addressed_to_bot(event):
        return None
    if event.message_type != "text":
        return _text_card(_("Assistant"), _("I can only read text messages."))
    text = strip_mentions(event.text)
    user = services.user_for_open_id(event.sender_open_id)
    convo = services.conversation_for(
        chat_id=event.chat_id, thread_key=event.thread_key, chat_type=event.chat_type
    )
    command, _sep, arg = text.partition(" ")
    command = command.lower()
    if command in {"/help", *_COMMAND_WORDS} or not text:
        return _text_card(_("Assistant"), HELP)
    if command == "/reset":
        services.reset_conversation(conversation=convo)
        return _text_card(_("Assistant"), _("The conversation was cleared."))
    if command == "/bind":
        try:
            binding = services.complete_binding(
                code=arg, open_id=event.sender_open_id, chat_id=event.chat_id
            )
        except services.BindingRefused:
            return _text_card(_("Assistant"), _("Too many wrong codes. Try again in 15 minutes."))
        if binding is None:
            return _text_card(
                _("Assistant"), _("That code is unknown or expired. Get a new one in the portal.")
            )
        return _text_card(
            _("Assistant"),
            _("Linked to portal user %(user)s.") % {"user": binding.user.get_username()},
        )
    if command in {"/progress", "/week", "/papers"}:
        if user is None:
            return _text_card(
                _("Assistant"),
                _(
                    "Link your portal account first: open the Feishu settings page in the portal and send /bind CODE here."
                ),
            )
        return _command_card(command, user)

    answer = answer_question(text, user=user, history=services.recent_history(convo))
    services.record_exchange(
        conversation=convo,
        question=text,
        answer=answer.text,
        citations=[c.as_dict() for c in answer.citations],
    )
    return answer_card(answer, question=text, event=event)


def _command_card(command: str, user: Any) -> dict[str, Any]:
    if command == "/progress":
        return _text_card(
            _("Progress"),
            sources.progress_summary(user) or _("The curriculum is not loaded yet."),
            [client.link_button(_("Open in portal"), absolute(reverse("curriculum:index")))],
        )
    if command == "/week":
        return week_card(user)
    papers = sources.next_papers(user)
    body = "\n".join(f"{i}. {t}" for i, t in enumerate(papers, 1)) or _("No unread papers.")
    return _text_card(
        _("Next papers"),
        body,
        [client.link_button(_("Open in portal"), absolute(reverse("papers:index")))],
    )


def week_card(user: Any) -> dict[str, Any]:
    """This week's goals and tasks, with a button that ticks the next open task."""
    summary = sources.week_summary(user)
    week = sources.plan_week(user)
    url = reverse("curriculum:week", args=[week]) if week else reverse("curriculum:index")
    buttons = [client.link_button(_("Open in portal"), absolute(url))]
    task = sources.next_open_task(user) if summary else None
    if task is not None:
        buttons.insert(
            0,
            client.callback_button(
                _("Mark done: %(task)s") % {"task": _short(task.title)},
                {"action": "task_done", "model": "curriculum.item", "pk": task.pk},
            ),
        )
    return _text_card(_("This week"), summary or _("The curriculum is not loaded yet."), buttons)


def _short(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_COMMAND_WORDS = {"help", "帮助"}


def is_question(event: MessageEvent) -> bool:
    """A free-text question for the bot (not a command)."""
    text = strip_mentions(event.text)
    return (
        is_addressed_to_bot(event)
        and event.message_type == "text"
        and bool(text)
        and not text.startswith("/")
        and text.lower() not in _COMMAND_WORDS
    )


def thinking_card() -> dict[str, Any]:
    return client.card(
        title=_("Knowledge base"), markdown=_("Searching your knowledge base…"), template="grey"
    )


def process_message_event(payload: dict[str, Any]) -> str:
    """Handle one stored event end to end; returns what happened (for the event row).

    When an LLM writes the answer (seconds), a placeholder card is sent at once and
    updated in place with the answer.
    """
    from portal.knowledge.llm import get_verified_llm

    event = MessageEvent.from_payload(payload)
    placeholder = ""
    asker = services.user_for_open_id(event.sender_open_id)
    if is_question(event) and get_verified_llm(user=asker) is not None:
        placeholder = client.reply_message(
            message_id=event.message_id,
            card=thinking_card(),
            in_thread=bool(event.thread_key),
            uuid=client.idempotency_key("wait", event.event_id),
        )
    card = handle_message(event)
    if card is None:
        return "ignored"
    if placeholder:
        client.update_card(message_id=placeholder, card=card)
    else:
        # A retried job (the worker lost its database after replying) does not reply twice.
        client.reply_message(
            message_id=event.message_id,
            card=card,
            in_thread=bool(event.thread_key),
            uuid=client.idempotency_key("answer", event.event_id),
        )
    return "done"


@dataclass(frozen=True)
class CardReply:
    """What a card button answers: a toast, and optionally the card's new content."""

    toast: str
    card: dict[str, Any] | None = None


def handle_card_action(action: CardAction, *, operator_open_id: str) -> CardReply:
    """Run a card button."""
    if action.action == "reset":
        convo = services.conversation_for(chat_id=action.chat_id, thread_key=action.thread_key)
        services.reset_conversation(conversation=convo)
        return CardReply(_("The conversation was cleared."))
    if action.action == "task_done":
        user = services.user_for_open_id(operator_open_id)
        if user is None:
            return CardReply(_("Link your portal account first."))
        if action.model not in {"", "curriculum.item"}:
            return CardReply(_("That task cannot be changed."))
        item = sources.mark_task_done(user, action.pk)
        if item is None:
            return CardReply(_("That task cannot be changed."))
        # the /week card is redrawn: the task ticked, the button on the next open one
        return CardReply(
            _("Marked as done: %(task)s") % {"task": _short(item.title, 40)}, week_card(user)
        )
    return CardReply(_("Unknown action."))
