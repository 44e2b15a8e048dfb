"""Sign-in throttling: the login form, the admin and POST /api/auth/token share one counter."""

from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _fail_login(client: Client, username: str = "owner") -> int:
    response = client.post(reverse("login"), {"username": username, "password": "wrong"})
    return response.status_code


def test_five_wrong_passwords_lock_the_login_form_even_for_the_right_password(
    client, owner, settings
):
    settings.LOGIN_FAILURE_LIMIT = 5
    assert [_fail_login(client) for _ in range(5)] == [HTTPStatus.OK] * 5

    response = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})

    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert response["Retry-After"] == str(settings.LOGIN_LOCKOUT_S)
    assert "_auth_user_id" not in client.session
    assert (
        response.context["form"].errors["__all__"][0].startswith(("Too many", "登录失败次数过多"))
    )


def test_the_lock_is_per_client_address_and_username(client, owner, other_user, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        _fail_login(client)

    elsewhere = Client(REMOTE_ADDR="10.1.2.3")
    response = elsewhere.post(reverse("login"), {"username": "owner", "password": PASSWORD})
    assert response.status_code == HTTPStatus.FOUND
    response = client.post(reverse("login"), {"username": "other", "password": PASSWORD})
    assert response.status_code == HTTPStatus.FOUND


def test_spraying_many_usernames_from_one_address_is_stopped(client, owner, settings):
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 4
    for name in ["a", "b", "c", "d"]:
        _fail_login(client, name)

    response = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_a_successful_sign_in_resets_the_count(client, owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(2):
        _fail_login(client)
    assert (
        client.post(reverse("login"), {"username": "owner", "password": PASSWORD}).status_code
        == 302
    )
    client.post(reverse("logout"))
    for _ in range(2):
        _fail_login(client)
    assert (
        client.post(reverse("login"), {"username": "owner", "password": PASSWORD}).status_code
        == 302
    )


def test_the_token_endpoint_answers_429_after_repeated_failures_and_shares_the_counter(
    client, owner, settings
):
    settings.LOGIN_FAILURE_LIMIT = 3
    url = reverse("api:create_token")
    bad = {"username": "owner", "password": "wrong"}
    for _ in range(2):
        assert client.post(url, bad, content_type="application/json").status_code == 401
    _fail_login(client)  # the third failure, through the form

    good = {"username": "owner", "password": PASSWORD}
    response = client.post(url, good, content_type="application/json")

    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert int(response["Retry-After"]) > 0
    assert "token" not in response.json()


def test_the_admin_login_is_throttled_too(client, staff, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    url = reverse("admin:login")
    for _ in range(2):
        client.post(url, {"username": "staff", "password": "wrong"})

    response = client.post(url, {"username": "staff", "password": PASSWORD, "next": "/admin/"})

    assert response.status_code == HTTPStatus.OK  # the form again, not the redirect into the admin
    assert "_auth_user_id" not in client.session


def test_a_cache_outage_does_not_lock_anyone_out(client, owner, monkeypatch):
    from django.core.cache import cache

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(cache, "get_many", down)
    monkeypatch.setattr(cache, "add", down)
    response = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
    assert response.status_code == HTTPStatus.FOUND


# --- PORTAL_TRUSTED_PROXIES (issue #14, item 8) ----------------------------------------------


def _fail_via(peer: str, forwarded: str, username: str = "owner") -> None:
    Client(REMOTE_ADDR=peer).post(
        reverse("login"),
        {"username": username, "password": "wrong"},
        headers={"X-Forwarded-For": forwarded},
    )


def test_behind_a_trusted_proxy_each_client_is_counted_by_its_forwarded_address(owner, settings):
    settings.PORTAL_TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 3
    for name in ["a", "b", "c"]:
        _fail_via("10.0.0.5", "203.0.113.7", name)

    # The attacker's address is locked; another client behind the same proxy is not.
    attacker = Client(REMOTE_ADDR="10.0.0.5")
    response = attacker.post(
        reverse("login"),
        {"username": "owner", "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.7"},
    )
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    neighbour = Client(REMOTE_ADDR="10.0.0.5")
    response = neighbour.post(
        reverse("login"),
        {"username": "owner", "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.9"},
    )
    assert response.status_code == HTTPStatus.FOUND


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(owner, settings):
    settings.PORTAL_TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 3
    # A client that makes up a new forwarded address per attempt is still one address.
    for i, name in enumerate(["a", "b", "c"]):
        _fail_via("192.0.2.50", f"203.0.113.{i}", name)
    response = Client(REMOTE_ADDR="192.0.2.50").post(
        reverse("login"),
        {"username": "owner", "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.99"},
    )
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_a_client_cannot_prepend_a_forwarded_address_through_a_trusted_proxy(settings):
    from django.test import RequestFactory

    from portal.core.ratelimit import client_address

    settings.PORTAL_TRUSTED_PROXIES = ["10.0.0.1", "10.0.0.2"]
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7, 10.0.0.1"
    )
    assert client_address(request) == "203.0.113.7"
    settings.PORTAL_TRUSTED_PROXIES = []
    assert client_address(request) == "10.0.0.2"
