"""The group webhook URL: only Feishu/Lark bot hooks on public addresses, and no echo of what answered."""

from __future__ import annotations

import socket
from http import HTTPStatus

import pytest
from django.urls import reverse

from portal.feishu import client
from portal.feishu.client import FeishuError, WebhookURLError, validate_webhook_url
from portal.feishu.models import FeishuBinding

pytestmark = pytest.mark.django_db

_real_getaddrinfo = socket.getaddrinfo


@pytest.fixture
def dns(monkeypatch) -> dict[str, str]:
    """Offline DNS: names in the table resolve to the given address, the rest as usual."""
    table: dict[str, str] = {}

    def getaddrinfo(host, port, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if host in table:
            family = socket.AF_INET6 if ":" in table[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (table[host], port))]
        return _real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


@pytest.fixture
def public_feishu(settings, dns) -> dict[str, str]:
    settings.FEISHU_DOMAIN = "https://open.feishu.cn"
    dns.update({"open.feishu.cn": "101.37.0.10", "open.larksuite.com": "101.37.0.11"})
    return dns


@pytest.mark.parametrize(
    "url",
    [
        "https://open.feishu.cn/open-apis/bot/v2/hook/abc-123",
        "https://open.larksuite.com/open-apis/bot/v2/hook/abc-123",
    ],
)
def test_feishu_and_lark_bot_hooks_are_accepted(public_feishu, url):
    assert validate_webhook_url(url) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://open.feishu.cn/open-apis/bot/v2/hook/abc", "https"),
        ("https://example.com/open-apis/bot/v2/hook/abc", "Feishu or Lark"),
        ("https://open.feishu.cn.evil.example/open-apis/bot/v2/hook/abc", "Feishu or Lark"),
        ("https://open.feishu.cn/open-apis/im/v1/messages", "/open-apis/bot/v2/hook/"),
        ("https://open.feishu.cn/open-apis/bot/v2/hook/", "/open-apis/bot/v2/hook/"),
        ("https://user:pw@open.feishu.cn/open-apis/bot/v2/hook/abc", "user name"),
        ("https://open.feishu.cn:8443/open-apis/bot/v2/hook/abc", "port"),
        ("https://127.0.0.1/open-apis/bot/v2/hook/abc", "Feishu or Lark"),
        ("http://localhost:6379/open-apis/bot/v2/hook/abc", "https"),
    ],
)
def test_anything_else_is_refused(public_feishu, url, reason):
    with pytest.raises(WebhookURLError, match=reason):
        validate_webhook_url(url)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.7", "169.254.169.254", "::1", "fd00::1"])
def test_a_feishu_name_that_resolves_to_a_private_address_is_refused(public_feishu, address):
    public_feishu["open.feishu.cn"] = address
    with pytest.raises(WebhookURLError, match="private, loopback or link-local"):
        validate_webhook_url("https://open.feishu.cn/open-apis/bot/v2/hook/abc")


def test_hosts_under_the_configured_domain_are_accepted(settings, dns):
    settings.FEISHU_DOMAIN = "https://open.feishu.example"
    dns.update({"hooks.open.feishu.example": "101.37.0.12", "open.feishu.example": "101.37.0.12"})
    url = "https://hooks.open.feishu.example/open-apis/bot/v2/hook/x"
    assert validate_webhook_url(url) == url


def test_loopback_is_accepted_only_when_the_feishu_domain_is_loopback(settings, fake_feishu):
    url = f"{fake_feishu.base_url}/open-apis/bot/v2/hook/x"
    assert validate_webhook_url(url) == url  # the suite's FEISHU_DOMAIN is the loopback fake
    settings.FEISHU_DOMAIN = "https://open.feishu.cn"
    with pytest.raises(WebhookURLError):
        validate_webhook_url(url)


def test_the_settings_form_refuses_an_internal_url_and_saves_nothing(owner_client, owner, dns):
    dns["open.feishu.cn"] = "10.1.2.3"
    resp = owner_client.post(
        reverse("feishu:settings"),
        {
            "channel": "webhook",
            "webhook_url": "http://169.254.169.254/latest/meta-data/",
            "digest_weekday": 4,
            "digest_hour": 9,
        },
    )
    assert resp.status_code == HTTPStatus.BAD_REQUEST
    assert "webhook_url" in resp.context["form"].errors
    assert not FeishuBinding.objects.filter(user=owner).exclude(webhook_url="").exists()


def test_a_url_stored_before_the_rule_is_checked_again_when_sending(settings):
    settings.FEISHU_DOMAIN = "https://open.feishu.cn"
    with pytest.raises(FeishuError, match="refused"):
        client.send_webhook(url="http://127.0.0.1:6379/open-apis/bot/v2/hook/x", text="hi")


def test_a_failed_send_reports_the_status_not_the_body(fake_feishu):
    fake_feishu.webhook_secret = "the-real-secret"
    with pytest.raises(FeishuError) as caught:
        client.send_webhook(
            url=f"{fake_feishu.base_url}/open-apis/bot/v2/hook/x", secret="wrong", text="hi"
        )
    message = str(caught.value)
    assert "19021" in message
    assert "sign match fail" not in message
    fake_feishu.fail_next("/open-apis/bot/v2/hook/", 1)
    with pytest.raises(FeishuError) as caught:
        client.send_webhook(url=f"{fake_feishu.base_url}/open-apis/bot/v2/hook/x", text="hi")
    assert str(caught.value) == "webhook failed: HTTP 500"
