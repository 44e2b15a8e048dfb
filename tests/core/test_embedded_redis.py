"""The embedded Redis keeps the broker's queues across a restart (append-only file)."""

import shutil
import tempfile
from pathlib import Path

import redis

from portal.core.embedded import start_redis, stop_redis
from portal.core.paths import layout_from


def test_queued_messages_survive_a_restart_of_the_embedded_redis():
    root = Path(tempfile.mkdtemp(prefix="aicp-r-", dir="/tmp"))
    layout = layout_from(root)
    try:
        start_redis(layout)
        client = redis.Redis(unix_socket_path=str(layout.redis_socket))
        client.rpush("cpu", b"task-1", b"task-2")
        stop_redis(layout)
        assert not layout.redis_socket.exists()

        start_redis(layout)
        client = redis.Redis(unix_socket_path=str(layout.redis_socket))
        assert client.lrange("cpu", 0, -1) == [b"task-1", b"task-2"]
    finally:
        stop_redis(layout)
        shutil.rmtree(root, ignore_errors=True)
