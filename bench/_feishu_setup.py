"""Shared start-up for the Feishu benches: Django settings and the embedded services."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> object:
    """Configure Django on the portal's data dir; returns the started services (stop them after)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from portal.core.embedded import embedded_services_from_settings

    return embedded_services_from_settings().start()
