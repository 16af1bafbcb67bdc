"""The local Google sandbox as the faces and tests use it: its app to serve (`poas sandbox google`),
one in a background thread, and a running sandbox's records over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from poas.google.sandbox import (
    DEFAULT_ACCOUNTS,
    DEFAULT_CLIENT,
    DEFAULT_REFRESH_TOKEN,
    RunningGoogleSandbox,
    create_google_sandbox_app,
    run_google_sandbox,
)

__all__ = [
    "DEFAULT_ACCOUNTS",
    "DEFAULT_CLIENT",
    "DEFAULT_REFRESH_TOKEN",
    "google_conversions",
    "google_events",
    "new_google_sandbox_app",
    "start_google_sandbox",
]


def new_google_sandbox_app() -> FastAPI:
    """A fresh Google sandbox with its default OAuth client, refresh token and account."""
    return create_google_sandbox_app()


@contextmanager
def start_google_sandbox() -> Iterator[RunningGoogleSandbox]:
    """Serve a fresh Google sandbox on a free local port in a background thread until the block ends."""
    with run_google_sandbox() as running:
        yield running


def _get(url: str, path: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
    resp = httpx.get(f"{url.rstrip('/')}{path}", params=params or {}, timeout=10)
    resp.raise_for_status()
    data: list[dict[str, Any]] = resp.json()["data"]
    return data


def google_events(url: str, destination: str | None = None) -> list[dict[str, Any]]:
    """Every event the sandbox accepted, in order, each marked `conversion` or `restatement`."""
    return _get(url, "/_sandbox/events", {"destination": destination} if destination else None)


def google_conversions(url: str) -> list[dict[str, Any]]:
    """One row per (destination, transaction id): its current value and how often it was restated."""
    return _get(url, "/_sandbox/conversions")
