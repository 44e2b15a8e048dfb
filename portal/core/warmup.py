"""A web process's first pages, prepared before the first request: every template compiled
(Django keeps them per process), each language's translations loaded, the URL resolver built.

When a cohort opens the portal at once, each web process would otherwise do this inside its
first requests, while every user's first pages are being rendered (nothing is cached yet).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

log = logging.getLogger(__name__)

compiled: list[str] = []


def template_names() -> list[str]:
    """Every .html template Django can find: the project's folders and the apps' own."""
    from django.apps import apps
    from django.conf import settings

    folders = [Path(d) for engine in settings.TEMPLATES for d in engine.get("DIRS", [])]
    folders += [Path(app.path) / "templates" for app in apps.get_app_configs()]
    names = {
        str(path.relative_to(folder))
        for folder in folders
        if folder.is_dir()
        for path in folder.rglob("*.html")
    }
    return sorted(names)


def warm_pages() -> None:
    from django.conf import settings
    from django.template import TemplateDoesNotExist, TemplateSyntaxError
    from django.template.loader import get_template
    from django.urls import reverse
    from django.utils import translation

    reverse("dashboard")  # builds the URL resolver's reverse tables
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            translation.gettext("Dashboard")  # loads the catalogue
    for name in template_names():
        try:
            get_template(name)
        except (TemplateDoesNotExist, TemplateSyntaxError) as exc:
            log.debug("warm-up skipped %s: %s", name, exc)
            continue
        compiled.append(name)


def start_warm_up() -> threading.Thread:
    thread = threading.Thread(target=warm_pages, name="pages-warm-up", daemon=True)
    thread.start()
    return thread
