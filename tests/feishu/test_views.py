"""Feishu settings pages: binding, notification preferences, test notifications."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import reverse

from portal.feishu.models import FeishuBinding, Notification
from tests.conftest import tasks_on_commit

pytestmark = pytest.mark.django_db


def test_pages_redirect_anonymous_users_to_login(client):
    resp = client.get(reverse("feishu:settings"))
    assert resp.status_code == HTTPStatus.FOUND
    assert "/login" in resp["Location"]


def test_the_old_knowledge_base_address_redirects_to_kb(owner_client):
    resp = owner_client.get(reverse("feishu:index"))
    assert resp.status_code == HTTPStatus.FOUND
    assert resp["Location"] == reverse("knowledge:index")


def test_getting_a_bind_code_shows_it_on_the_settings_page(owner_client, owner):
    resp = owner_client.post(reverse("feishu:bind"), follow=True)
    code = FeishuBinding.objects.get(user=owner).bind_code
    assert len(code) == 12
    assert f"/bind {code}" in resp.content.decode()


def test_saving_notification_preferences(owner_client, owner):
    resp = owner_client.post(
        reverse("feishu:settings"),
        {
            "channel": "bot",
            "digest_enabled": "on",
            "digest_weekday": 4,
            "digest_hour": 9,
            "notify_events": "on",
        },
    )
    assert resp.status_code == HTTPStatus.FOUND
    binding = FeishuBinding.objects.get(user=owner)
    assert (binding.digest_weekday, binding.digest_hour) == (4, 9)
    assert binding.notify_events and not binding.review_reminder  # unticked box
    owner_client.post(
        reverse("feishu:settings"),
        {"channel": "bot", "digest_weekday": 4, "digest_hour": 9, "review_reminder": "on"},
    )
    binding.refresh_from_db()
    assert binding.review_reminder and not binding.digest_enabled


def test_an_invalid_digest_hour_is_refused(owner_client):
    resp = owner_client.post(
        reverse("feishu:settings"), {"channel": "bot", "digest_weekday": 1, "digest_hour": 30}
    )
    assert resp.status_code == HTTPStatus.BAD_REQUEST


def test_the_test_notification_button_queues_a_notification(
    owner_client, owner, django_capture_on_commit_callbacks
):
    FeishuBinding.objects.create(user=owner, open_id="ou_owner")
    with django_capture_on_commit_callbacks() as queued:
        resp = owner_client.post(reverse("feishu:test_notification"))
    assert resp.status_code == HTTPStatus.FOUND
    notification = Notification.objects.get(user=owner)
    assert (notification.kind, notification.channel) == ("test", "bot")
    assert len(tasks_on_commit(queued)) == 1


def test_the_test_notification_says_when_there_is_nowhere_to_send(owner_client, owner):
    resp = owner_client.post(reverse("feishu:test_notification"), follow=True)
    assert not Notification.objects.exists()
    assert resp.status_code == HTTPStatus.OK


def test_unbinding(owner_client, owner):
    FeishuBinding.objects.create(user=owner, open_id="ou_owner")
    owner_client.post(reverse("feishu:unbind"))
    assert FeishuBinding.objects.get(user=owner).open_id == ""
