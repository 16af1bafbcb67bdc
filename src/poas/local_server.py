"""An ASGI app served over real HTTP in a background thread (the sandboxes of Meta, Shopify and
WooCommerce, in the tests, the demo and the benches)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn


@dataclass(frozen=True, slots=True)
class LocalServer:
    url: str  # http://host:port, no trailing slash
    server: uvicorn.Server
    thread: threading.Thread


@contextmanager
def serve_in_thread(
    app: Any,
    *,
    host: str,
    port: int,
    what: str,
    on_bound: Callable[[str], None] | None = None,
) -> Iterator[LocalServer]:
    """Serve `app` until the block ends; `on_bound(url)` runs once the port is known, before serving.

    `what` names the server in the thread name and in the error when it does not start in 10 s."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only then (else keep-alive requests wait 40 ms)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    url = f"http://{host}:{sock.getsockname()[1]}"
    if on_bound is not None:
        on_bound(url)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    name = "poas-" + what.lower().replace(" ", "-")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"the {what} did not start")
        time.sleep(0.01)
    try:
        yield LocalServer(url, server, thread)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
