"""A web process stays light: serving every page never imports torch or transformers.

Lab code registers at start-up (AppConfig.ready) and its heavy libraries load only inside
the run functions, on a Celery worker; a web process that imported them would carry
hundreds of MB and seconds of start-up per process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT, child_env

HEAVY = ("torch", "transformers")

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django
    django.setup()
    import portal.asgi  # the application every web process serves
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client
    from django.urls import URLPattern, URLResolver, get_resolver, reverse, NoReverseMatch

    def walk(resolver, namespace=""):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                ns = pattern.namespace
                yield from walk(pattern, f"{namespace}{ns}:" if ns else namespace)
            else:
                pattern.callback  # imports the view's module
                if pattern.name:
                    yield namespace + pattern.name

    names = sorted(set(walk(get_resolver())))
    user, _ = User.objects.get_or_create(username="light-web")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    fetched, errors = [], []
    for name in names + ["week-10"]:
        try:
            url = "/curriculum/weeks/10/" if name == "week-10" else reverse(name)
        except NoReverseMatch:
            continue  # needs arguments
        if url.startswith("/admin/"):
            continue
        status = client.get(url).status_code
        fetched.append(url)
        if status >= 500 and status != 503:  # 503: /healthz without a worker, by design
            errors.append(f"{url}: {status}")
    heavy = [m for m in HEAVY_MODULES if m in sys.modules]
    print(json.dumps({"fetched": fetched, "errors": errors, "heavy": heavy}))
    """
).replace("HEAVY_MODULES", repr(HEAVY))


def run_web_process(script: str) -> dict:
    """Run `script` in a fresh interpreter, as a web process starts; its last line is JSON."""
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True)
def test_serving_every_page_imports_neither_torch_nor_transformers(db):
    report = run_web_process(SCRIPT)
    assert "/dashboard/" in report["fetched"] and "/labs/" in report["fetched"]
    assert len(report["fetched"]) > 20, report["fetched"]
    assert report["errors"] == []
    assert report["heavy"] == [], f"a web process imported {report['heavy']}"


FREEZE_SCRIPT = textwrap.dedent(
    """
    import gc, json, os, threading
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    before = gc.get_freeze_count()
    import portal.asgi  # the application every web process serves
    for thread in threading.enumerate():
        if thread.name == "gc-freeze":
            thread.join(timeout=120)
    from django.template import engines
    from portal.core.warmup import compiled, template_names
    # template_partials wraps Django's cached loader
    loader = engines["django"].engine.template_loaders[0].loaders[0]
    print(json.dumps({
        "before": before, "frozen": gc.get_freeze_count(), "compiled": compiled,
        "templates": template_names(), "loader_cache": len(loader.get_template_cache),
        "full_threshold": gc.get_threshold()[2],
        "pacer": any(t.name == "gc-pacer" for t in threading.enumerate()),
    }))
    """
)


def test_a_web_process_freezes_what_start_up_built_out_of_the_garbage_collector():
    """Full collections no longer walk the start-up objects (they stalled every request of
    the process for about half a second in bench/load.py's Feishu burst)."""
    report = run_web_process(FREEZE_SCRIPT)
    assert report["before"] == 0
    assert report["frozen"] > 100_000, report  # Django and the apps: far more than this
    # and full collections are the pacer's, never inside a Feishu acknowledgement
    assert report["pacer"] and report["full_threshold"] == 1_000_000_000, report


def test_a_web_process_compiles_its_templates_before_the_first_request():
    """A cohort's first pages are not also each process's first template compilations."""
    report = run_web_process(FREEZE_SCRIPT)
    for page in ("core/dashboard.html", "labs/index.html", "papers/index.html"):
        assert page in report["compiled"]
    assert len(report["compiled"]) >= len(report["templates"]) - 5, report
    assert report["loader_cache"] >= len(report["compiled"])
