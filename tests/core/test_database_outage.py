"""Fast form: a patched failure. The real one (PostgreSQL stopped under requests) is
tests/reliability/test_real_outages.py."""

from http import HTTPStatus

import pytest
from django.db import OperationalError
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_database_outage_answers_503_with_retry_after(owner_client, monkeypatch):
    from portal.core import views

    def broken(*args, **kwargs):
        raise OperationalError("connection to server on socket failed")

    monkeypatch.setattr(views, "panels", broken)
    response = owner_client.get(reverse("dashboard"))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Retry-After"] == "5"
    assert "unavailable" in response.json()["detail"]
