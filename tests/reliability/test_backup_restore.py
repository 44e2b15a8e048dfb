"""`manage.py backup` then `manage.py restore` into a fresh data directory: nothing is lost.

Runs the commands as a person does, in subprocesses with their own data directories
(their own embedded PostgreSQL), never touching the test session's servers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

SEED = r"""
from django.contrib.auth.models import User
from django.core.management import call_command
from portal.core.services import issue_api_token
from portal.labs.models import Run, RunArtifact, RunEvent
from portal.papers.models import Paper
from portal.knowledge.models import Document

call_command("loadcurriculum", verbosity=0)
call_command("loadpapers", verbosity=0)
user = User.objects.create_user("kept", password="pw-kept-123456")
issue_api_token(user=user, name="backup")
run = Run.objects.create(owner=user, lab_id="system-benchmark", params={"repeats": 2},
                         queue="cpu", time_limit_s=60, soft_time_limit_s=50, status="succeeded",
                         result={"gflops": 12.5})
for seq in range(1, 6):
    RunEvent.objects.create(run=run, seq=seq, kind="metric", ts=run.created_at,
                            data={"name": "x", "value": seq})
run.artifact_dir().mkdir(parents=True, exist_ok=True)
(run.artifact_dir() / "report.csv").write_bytes(b"a,b\n1,2\n")
RunArtifact.objects.create(run=run, name="report.csv", path=str(run.artifact_dir() / "report.csv"), size=8)
paper = Paper.objects.order_by("pk").first()
paper.embedding = [0.25] * Paper._meta.get_field("embedding").dimensions
paper.save(update_fields=["embedding"])
Document.objects.create(owner=user, source="upload", source_key="file:n.md", title="笔记",
                        content="量化 <b>notes</b>")
"""

REPORT = r"""
import json
from django.test import Client
from portal.core.backup import table_counts
from portal.labs.models import RunArtifact
from portal.papers.models import Paper
from django.contrib.auth.models import User

# Sessions aside: this report signs in, which adds one.
tables = {t: n for t, n in table_counts().items() if t != "django_session"}
artifact = RunArtifact.objects.get()
client = Client()
client.force_login(User.objects.get(username="kept"))
body = client.get(f"/labs/runs/{artifact.run_id}/artifacts/report.csv")
paper = Paper.objects.exclude(embedding=None).get()
print("REPORT" + json.dumps({
    "tables": tables,
    "artifact": b"".join(body.streaming_content).decode(),
    "embedding": [float(x) for x in paper.embedding[:3]],
    "password_ok": User.objects.get(username="kept").check_password("pw-kept-123456"),
}))
"""


def _manage(data_dir: Path, *args: str, timeout: float = 300) -> str:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(PORTAL_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", ALLOWED_HOSTS="testserver")
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def data_dirs() -> Iterator[tuple[Path, Path]]:
    dirs = (
        Path(tempfile.mkdtemp(prefix="aicp-bk-a-", dir="/tmp")),
        Path(tempfile.mkdtemp(prefix="aicp-bk-b-", dir="/tmp")),
    )
    yield dirs
    for path in dirs:
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
        env["PORTAL_DATA_DIR"] = str(path)
        subprocess.run(
            [sys.executable, "manage.py", "services", "stop"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(path, ignore_errors=True)


def _report(data_dir: Path) -> dict:
    out = _manage(data_dir, "shell", "-c", REPORT)
    return json.loads(out.split("REPORT", 1)[1])


def test_a_backup_restored_into_a_fresh_data_directory_loses_nothing_and_needs_force_to_overwrite(
    data_dirs, tmp_path
):
    source, fresh = data_dirs
    archive = tmp_path / "portal-backup.tar.gz"
    _manage(source, "services", "start")
    _manage(source, "migrate", "--no-input", "-v", "0")
    _manage(source, "shell", "-c", SEED)
    before = _report(source)
    out = _manage(source, "backup", str(archive))
    assert "1 media files" in out
    _manage(source, "services", "stop")

    out = _manage(fresh, "restore", str(archive))  # starts and stops its own PostgreSQL
    assert "Restored" in out
    _manage(fresh, "services", "start")
    after = _report(fresh)

    assert after == before
    assert after["tables"]["labs_runevent"] == 5 and after["tables"]["auth_user"] == 1
    assert after["artifact"] == "a,b\n1,2\n" and after["embedding"] == [0.25] * 3
    assert sum(after["tables"].values()) > 50

    # A second restore over data that now exists needs --force, and says so without a traceback.
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["PORTAL_DATA_DIR"] = str(fresh)
    refused = subprocess.run(
        [sys.executable, "manage.py", "restore", str(archive)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode != 0 and "--force" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert "Restored" in _manage(fresh, "restore", "--force", str(archive))
    assert _report(fresh) == before
