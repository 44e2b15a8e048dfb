from http import HTTPStatus

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from portal.core.models import ApiToken, hash_token
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_sign_up_creates_the_account_and_logs_in(client):
    response = client.post(
        reverse("signup"),
        {
            "username": "learner",
            "email": "l@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == reverse("dashboard")
    assert User.objects.filter(username="learner").exists()
    assert client.get(reverse("dashboard")).status_code == HTTPStatus.OK


def test_sign_up_with_mismatched_passwords_is_rejected_and_creates_nothing(client):
    response = client.post(
        reverse("signup"),
        {"username": "learner", "password1": PASSWORD, "password2": PASSWORD + "x"},
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not User.objects.filter(username="learner").exists()


def test_sign_up_requires_csrf(owner):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("signup"), {"username": "x", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_dashboard_redirects_anonymous_visitors_to_login(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == HTTPStatus.FOUND
    assert response.url.startswith(reverse("login"))


def test_log_in_and_log_out(client, owner):
    response = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
    assert response.status_code == HTTPStatus.FOUND
    assert client.get(reverse("dashboard")).status_code == HTTPStatus.OK

    client.post(reverse("logout"))
    assert client.get(reverse("dashboard")).status_code == HTTPStatus.FOUND


def test_change_password(owner_client, owner):
    response = owner_client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "another-long-pass-99",
            "new_password2": "another-long-pass-99",
        },
    )
    assert response.status_code == HTTPStatus.FOUND
    owner.refresh_from_db()
    assert owner.check_password("another-long-pass-99")


def test_dashboard_shows_the_navigation(owner_client):
    html = owner_client.get(reverse("dashboard")).content.decode()
    for label in ("课程", "论文", "实验室", "知识库", "飞书"):
        assert label in html


# --- API tokens -------------------------------------------------------------------------------


def test_token_endpoint_returns_a_working_bearer_token(client, owner):
    response = client.post(
        "/api/auth/token",
        {"username": "owner", "password": PASSWORD},
        content_type="application/json",
    )

    assert response.status_code == HTTPStatus.CREATED
    token = response.json()["token"]
    assert ApiToken.objects.get(user=owner).key_hash == hash_token(token)
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == HTTPStatus.OK
    assert me.json()["username"] == "owner"


def test_token_endpoint_rejects_a_wrong_password_and_stores_nothing(client, owner):
    response = client.post(
        "/api/auth/token",
        {"username": "owner", "password": "nope"},
        content_type="application/json",
    )
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert "Invalid" in response.json()["detail"]
    assert not ApiToken.objects.exists()


def test_token_endpoint_rejects_a_malformed_body_with_422(client):
    response = client.post("/api/auth/token", {"username": ""}, content_type="application/json")
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY


def test_api_accepts_the_browser_session(owner_client):
    assert owner_client.get("/api/auth/me").json()["username"] == "owner"


def test_api_rejects_anonymous_and_unknown_tokens(client):
    assert client.get("/api/auth/me").status_code == HTTPStatus.UNAUTHORIZED
    bad = client.get("/api/auth/me", headers={"Authorization": "Bearer aicp_not-a-token"})
    assert bad.status_code == HTTPStatus.UNAUTHORIZED


def test_a_revoked_token_stops_working(owner_client, owner, owner_token):
    token = ApiToken.objects.get(user=owner)
    owner_client.post(reverse("token_revoke", args=[token.pk]))

    response = owner_client.get("/api/auth/me", headers={"Authorization": f"Bearer {owner_token}"})
    # The session still works; the token alone must not.
    from django.test import Client

    assert (
        Client().get("/api/auth/me", headers={"Authorization": f"Bearer {owner_token}"}).status_code
        == 401
    )
    assert response.status_code == HTTPStatus.OK


def test_account_page_creates_a_token_and_shows_it_once(owner_client, owner):
    response = owner_client.post(reverse("token_create"), {"name": "laptop"})
    assert response.status_code == HTTPStatus.OK
    raw = response.context["new_token"]
    assert raw in response.content.decode()
    assert ApiToken.objects.get(user=owner, name="laptop").key_hash == hash_token(raw)
    assert raw not in owner_client.get(reverse("account")).content.decode()


def test_cannot_revoke_another_users_token(other_client, owner, owner_token):
    token = ApiToken.objects.get(user=owner)
    response = other_client.post(reverse("token_revoke", args=[token.pk]))
    assert response.status_code == HTTPStatus.NOT_FOUND
    token.refresh_from_db()
    assert token.revoked_at is None


def test_token_revoke_refuses_get(owner_client, owner, owner_token):
    token = ApiToken.objects.get(user=owner)
    assert (
        owner_client.get(reverse("token_revoke", args=[token.pk])).status_code
        == HTTPStatus.METHOD_NOT_ALLOWED
    )


def test_openapi_docs_are_served(client):
    assert client.get("/api/docs").status_code == HTTPStatus.OK
    schema = client.get("/api/openapi.json").json()
    assert "/api/auth/token" in schema["paths"]


# --- PORTAL_SIGNUP_OPEN (issue #14) --------------------------------------------------------------


def test_with_sign_up_closed_nobody_can_create_an_account(client, settings):
    settings.PORTAL_SIGNUP_OPEN = False
    response = client.post(
        reverse("signup"),
        {"username": "learner", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert not User.objects.filter(username="learner").exists()
    assert client.get(reverse("signup")).status_code == HTTPStatus.FORBIDDEN
    # ...and no page offers the link.
    for name in ["home", "login"]:
        assert reverse("signup") not in client.get(reverse(name)).content.decode()


def test_sign_up_is_offered_while_open(client, settings):
    settings.PORTAL_SIGNUP_OPEN = True
    assert reverse("signup") in client.get(reverse("login")).content.decode()


def test_check_deploy_warns_while_sign_up_is_open_with_debug_off(settings):
    from django.core.checks import WARNING, run_checks

    settings.DEBUG = False
    settings.PORTAL_SIGNUP_OPEN = True
    found = [m for m in run_checks(include_deployment_checks=True) if m.id == "core.W001"]
    assert [m.level for m in found] == [WARNING]
    settings.PORTAL_SIGNUP_OPEN = False
    assert not [m for m in run_checks(include_deployment_checks=True) if m.id == "core.W001"]
