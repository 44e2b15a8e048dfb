"""What Django's error reports (the DEBUG page, error e-mails) may show: no credentials.

Django's default filter hides settings and request headers whose names contain
KEY, TOKEN, SECRET, PASS...; it misses the Authorization header (a Bearer
token) and passwords inside URLs (DATABASE_URL, REDIS_URL, the Celery broker).
"""

from __future__ import annotations

import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/@\s:]*:)[^@\s]*@", re.IGNORECASE)


def redact_url_passwords(text: str) -> str:
    """`scheme://user:password@host` -> `scheme://user:********************@host`."""
    return _URL_PASSWORD.sub(
        lambda m: m.group("head") + SafeExceptionReporterFilter.cleansed_substitute + "@", text
    )


class PortalExceptionReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CREDENTIAL", flags=re.IGNORECASE
    )

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):
            return redact_url_passwords(cleansed)
        return cleansed
