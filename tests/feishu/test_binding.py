"""Feishu bind codes: long, one-time, and guessing is limited per Feishu user and per code."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from portal.feishu import bot, services
from portal.feishu.models import BIND_CODE_ALPHABET, FeishuBinding
from portal.feishu.schemas import MessageEvent
from tests.feishu.fakefeishu import message_event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_bind_counters() -> None:
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match="*feishu-bind:*"))
    if keys:
        client.delete(*keys)


def _bind(code: str, open_id: str = "ou_owner") -> FeishuBinding | None:
    return services.complete_binding(code=code, open_id=open_id, chat_id="oc_1")


def _wrong(code: str) -> str:
    """The same selector (first four characters) with the rest changed."""
    last = code[-1]
    return code[:-1] + next(c for c in BIND_CODE_ALPHABET if c != last)


def test_a_bind_code_is_twelve_characters_from_a_large_alphabet(owner):
    codes = {services.start_binding(user=owner) for _ in range(20)}
    assert len(codes) == 20
    for code in codes:
        assert len(code) == 12
        assert set(code) <= set(BIND_CODE_ALPHABET)
    assert len(BIND_CODE_ALPHABET) >= 29


def test_the_right_code_links_once_and_only_once(owner, other_user):
    code = services.start_binding(user=owner)
    binding = _bind(code.lower()[:6] + " " + code.lower()[6:])  # typed by hand
    assert binding is not None
    assert binding.open_id == "ou_owner"
    assert _bind(code, open_id="ou_thief") is None
    assert FeishuBinding.objects.get(user=owner).open_id == "ou_owner"


def test_a_feishu_user_who_sends_too_many_wrong_codes_is_refused_even_the_right_one(
    owner, settings
):
    settings.FEISHU_BIND_MAX_ATTEMPTS = 5
    code = services.start_binding(user=owner)
    for guess in ["AAAAAAAAAAAA", "123", "BBBBBBBBBBBB", "CCCCCCCCCCCC", "DDDDDDDDDDDD"]:
        assert _bind(guess, open_id="ou_guesser") is None
    with pytest.raises(services.BindingRefused):
        _bind(code, open_id="ou_guesser")
    assert FeishuBinding.objects.get(user=owner).open_id == ""
    # Someone else is not affected.
    assert _bind(code, open_id="ou_owner") is not None


def test_a_code_that_takes_too_many_wrong_guesses_is_burnt(owner, settings):
    """Many Feishu accounts guessing the same pending code cannot keep trying it."""
    settings.FEISHU_BIND_MAX_ATTEMPTS = 3
    code = services.start_binding(user=owner)
    for i in range(3):
        assert _bind(_wrong(code), open_id=f"ou_guesser_{i}") is None
    assert _bind(code) is None
    assert FeishuBinding.objects.get(user=owner).bind_code == ""
    fresh = services.start_binding(user=owner)
    assert _bind(fresh) is not None


def test_the_bot_says_when_a_feishu_user_is_locked_out(owner, settings):
    import json

    from django.utils import translation

    settings.FEISHU_BIND_MAX_ATTEMPTS = 1
    services.start_binding(user=owner)
    ev = MessageEvent.from_payload(message_event(text="/bind AAAAAAAAAAAA", token="t"))
    with translation.override("en"):
        first = json.dumps(bot.handle_message(ev))
        second = json.dumps(bot.handle_message(ev))
    assert "unknown or expired" in first
    assert "Too many wrong codes" in second
