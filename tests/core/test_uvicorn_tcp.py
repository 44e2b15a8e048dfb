"""The web processes' connections have TCP_NODELAY (portal.core.uvicorn_tcp).

Without it, each request on a kept-alive connection after the first waited for the client's
delayed acknowledgement (~43 ms on Linux; uvicorn issue #3149). Checked on the socket itself,
as asyncio sees it in a worker process: the listener uvicorn's supervisor would hand down.
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn.config

from portal.core.uvicorn_tcp import bind_tcp_socket


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


def _config() -> uvicorn.config.Config:
    return uvicorn.config.Config("portal.asgi:application", host="127.0.0.1", port=0, workers=2)


def test_uvicorns_own_listener_leaves_nagle_on_for_accepted_connections():
    """The defect itself: if uvicorn fixes it, this fails and the module can go."""
    listener = _config().bind_socket()
    assert listener.proto == 0
    assert asyncio.run(_accepted_nodelay(listener)) == 0


def test_the_portals_listener_gives_every_accepted_connection_tcp_nodelay():
    listener = bind_tcp_socket(_config())
    assert listener.proto == socket.IPPROTO_TCP and listener.get_inheritable()
    assert asyncio.run(_accepted_nodelay(listener)) == 1
