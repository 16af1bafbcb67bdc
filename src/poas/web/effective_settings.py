"""The settings a request reads: as loaded from the environment and poas.toml (`app.state.settings`)
with the shop settings changed in the dashboard applied (poas.services.settings_overrides)."""

from __future__ import annotations

from fastapi import Request

from poas.services.settings_overrides import effective_settings
from poas.settings import Settings


def apply_settings(request: Request) -> None:
    """Dependency: read the stored changes once for this request (`request.state.settings`)."""
    base: Settings = request.app.state.settings
    request.state.settings = effective_settings(base, request.app.state.engine)


def settings_of(request: Request) -> Settings:
    """This request's settings: with the dashboard's changes when `apply_settings` ran, else as loaded."""
    s: Settings | None = getattr(request.state, "settings", None)
    if s is None:
        s = request.app.state.settings
    return s
