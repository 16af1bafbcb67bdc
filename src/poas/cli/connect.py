"""The `poas connect` group: one command per platform (each in its platform's CLI module). The group
itself is `poas.cli.app.connect_app`; this module re-exports it (one group, so every platform's
command is found)."""

from __future__ import annotations

from poas.cli.app import connect_app

__all__ = ["connect_app"]
