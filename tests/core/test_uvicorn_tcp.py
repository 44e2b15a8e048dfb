"""The web processes' connections have TCP_NODELAY.

Without it, each request on a kept-alive connection after the first waits for the client's
delayed acknowledgement (~43 ms on Linux). uvicorn's `--workers` supervisor bound its
listening socket with `proto` 0 up to 0.54, so asyncio never set TCP_NODELAY on the
connections the workers accepted (uvicorn issue #3149); the portal ran uvicorn through a
module that rebound it as TCP. uvicorn 0.55 fixed it, pyproject.toml requires it, and the
module is gone. Checked on the socket itself, as asyncio sees it in a worker process: the
listener uvicorn's supervisor hands down.
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn.config


async def _accepted_nodelay(listener: socket.socket) -> int:
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Report(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Report, sock=listener)
    port = listener.getsockname()[1]
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return await asyncio.wait_for(seen, 10)
    finally:
        writer.close()
        server.close()


def test_the_workers_listener_gives_every_accepted_connection_tcp_nodelay():
    config = uvicorn.config.Config("portal.asgi:application", host="127.0.0.1", port=0, workers=2)
    listener = config.bind_socket()  # what the supervisor binds and its workers inherit
    assert listener.proto == socket.IPPROTO_TCP
    assert asyncio.run(_accepted_nodelay(listener)) == 1
