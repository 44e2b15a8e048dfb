from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """HttpRequest as seen by views: with django-htmx details and a signed-in user."""

    htmx: HtmxDetails
    user: AbstractBaseUser
