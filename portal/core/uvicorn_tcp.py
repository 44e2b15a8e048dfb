"""`python -m portal.core.uvicorn_tcp <uvicorn options>`: uvicorn's command line, with TCP_NODELAY on
every connection of its worker processes.

With `--workers N`, uvicorn's supervisor binds the listening socket itself and leaves its
`proto` at 0. The connections the workers accept inherit it, and asyncio turns on
TCP_NODELAY only for a socket that says IPPROTO_TCP. Nagle's algorithm then holds back a
response's second write until the client acknowledges the first, and the client delays
that acknowledgement: every request on a kept-alive connection after the first took about
43 ms more (uvicorn issue #3149; measured here: `/healthz` 48 ms on a reused connection
against 5 ms on a fresh one, a Feishu acknowledgement likewise). The single-process path
is not affected: asyncio binds that socket itself.

This binds the socket as uvicorn does, then declares it TCP.
"""

from __future__ import annotations

import socket
import sys

import uvicorn.config
import uvicorn.main

_bind_socket = uvicorn.config.Config.bind_socket


def bind_tcp_socket(self: uvicorn.config.Config) -> socket.socket:
    sock = _bind_socket(self)
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto != socket.IPPROTO_TCP:
        family, kind = sock.family, sock.type
        sock = socket.socket(family, kind, socket.IPPROTO_TCP, fileno=sock.detach())
        sock.set_inheritable(True)
    return sock


def main() -> None:
    uvicorn.config.Config.bind_socket = bind_tcp_socket  # type: ignore[method-assign]
    sys.argv[0] = "uvicorn"
    uvicorn.main.main()


if __name__ == "__main__":
    main()
