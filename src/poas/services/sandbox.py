"""The local Meta sandbox as the faces use it: its app to serve (`poas sandbox`), one in a background
thread (the demo), and a running sandbox's records and insights over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import httpx
from fastapi import FastAPI

from poas.meta.sandbox import create_sandbox_app, run_sandbox


class SandboxError(RuntimeError):
    """A running sandbox could not be reached, or refused the request."""


class Sandbox(Protocol):
    """A sandbox served over HTTP."""

    @property
    def url(self) -> str: ...  # its base URL, no trailing slash

    def events(self, pixel_id: str | None = None, event_name: str | None = None) -> list[dict[str, Any]]:
        """The events it accepted, in order."""
        ...


def new_sandbox_app(*, app_secret: str | None = None) -> FastAPI:
    """A fresh sandbox's ASGI app (with `app_secret`, it requires appsecret_proof)."""
    return create_sandbox_app(app_secret=app_secret)


@contextmanager
def start_sandbox(*, app_secret: str | None = None) -> Iterator[Sandbox]:
    """Serve a fresh sandbox on a free local port in a background thread until the block ends."""
    with run_sandbox(app_secret=app_secret) as running:
        yield running


def fetch_events(
    url: str, *, pixel_id: str | None = None, event_name: str | None = None, timeout_s: float = 10
) -> list[dict[str, Any]]:
    """The records (seq, pixel_id, event, duplicate) of the events a running sandbox accepted."""
    params = {k: v for k, v in {"pixel_id": pixel_id, "event_name": event_name}.items() if v}
    try:
        resp = httpx.get(f"{url.rstrip('/')}/_sandbox/events", params=params, timeout=timeout_s)
        resp.raise_for_status()
    except httpx.HTTPError as exc:
        raise SandboxError(f"sandbox at {url}: {exc}") from None
    records: list[dict[str, Any]] = resp.json()["data"]
    return records


def load_insights(url: str, body: dict[str, Any], *, timeout_s: float = 30) -> None:
    """Give a running sandbox the insights rows it serves (`account_id`, `rows`, `replace`, …)."""
    response = httpx.post(f"{url.rstrip('/')}/_sandbox/insights", json=body, timeout=timeout_s)
    if response.status_code != 200:
        raise SandboxError(f"the sandbox refused the rows ({response.status_code})")
