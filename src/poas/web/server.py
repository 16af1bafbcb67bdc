"""Running the web app: uvicorn alone, in a thread, or with the delivery worker; the one-time password."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine

from poas.services.database import open_store
from poas.services.deliver import DeliveryConfig, DeliveryReport
from poas.services.worker import Worker
from poas.settings import Settings, load_settings
from poas.web.auth import hash_password


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def ensure_admin_password(settings: Settings) -> str | None:
    """Without a configured hash, make a one-time password; return it (for printing) or None.

    The hash and a session secret go into this process's environment too, so uvicorn worker
    processes (which load settings from the environment) accept the same password and cookies.
    """
    if settings.session_secret is None:
        secret = secrets.token_urlsafe(32)
        settings.session_secret = SecretStr(secret)
        os.environ["POAS_SESSION_SECRET"] = secret
    if settings.admin_password_hash is not None:
        return None
    password = secrets.token_urlsafe(12)
    encoded = hash_password(password)
    settings.admin_password_hash = SecretStr(encoded)
    os.environ["POAS_ADMIN_PASSWORD_HASH"] = encoded
    return password


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` worker processes: settings from the environment and TOML."""
    from poas.web.app import create_app

    settings = load_settings()
    return create_app(settings, open_store(settings.resolved_database_url()))


def run_web(host: str, port: int, workers: int = 1, log_level: str = "info") -> None:
    """Serve the app in the foreground until interrupted (several worker processes when asked)."""
    uvicorn.run(
        "poas.web.server:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=True,
    )


class ServerThread:
    """uvicorn serving an app in a background thread of this process (tests, `poas serve`, demos)."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="poas-web", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 15.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the web server did not start on {self.url}")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextmanager
def run_in_thread(app: FastAPI, host: str = "127.0.0.1", port: int | None = None) -> Iterator[ServerThread]:
    server = ServerThread(app, host, port)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class _QuietSignals(uvicorn.Server):
    """A uvicorn server that leaves SIGINT/SIGTERM to its caller (uvicorn re-raises them on exit,
    which would cut the worker's graceful shutdown short)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_with_worker(
    settings: Settings,
    engine: Engine,
    host: str,
    port: int,
    *,
    delivery: DeliveryConfig | None = None,
    started: threading.Event | None = None,
    stop: asyncio.Event | None = None,
    log_level: str = "info",
) -> DeliveryReport:
    """The embedded default: web app, outbox dispatcher and the worker's duties (inbox, finalizing
    returns) in one process and one event loop.

    Stops on SIGINT/SIGTERM (uvicorn's handlers) or when `stop` is set; in-flight Graph requests
    finish (or their claims are released) before it returns.
    """
    from poas.web.app import create_app

    config = uvicorn.Config(create_app(settings, engine), host=host, port=port, log_level=log_level)
    server = _QuietSignals(config)
    if threading.current_thread() is threading.main_thread():
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    delivery = delivery or DeliveryConfig()
    worker_stop = asyncio.Event()

    async def watch(web: asyncio.Task[None]) -> None:
        while not server.started and not web.done():
            await asyncio.sleep(0.02)
        if started is not None and server.started:
            started.set()
        if stop is not None:
            await stop.wait()
            server.should_exit = True

    async with Worker(engine, settings, delivery) as deliverer:
        worker = asyncio.create_task(deliverer.run(worker_stop, housekeeping=True))
        web = asyncio.create_task(server.serve())
        watcher = asyncio.create_task(watch(web))
        try:
            await web
        finally:
            watcher.cancel()
            worker_stop.set()
            report = await worker
    return report
