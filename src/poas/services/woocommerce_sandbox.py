"""The WooCommerce sandbox as the faces use it: its app to serve (`poas sandbox woocommerce`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from poas.connectors.woocommerce_sandbox import Cogs, create_woo_sandbox_app, new_woo_state
from poas.connectors.woocommerce_seed import WooSeedError

__all__ = ["WooSeedError", "new_woo_sandbox_app"]


def new_woo_sandbox_app(
    seed: Path | None = None, *, key: str | None = None, secret: str | None = None, cogs: Cogs = "core"
) -> FastAPI:
    """A sandbox app holding `seed`'s orders and products; with `key`/`secret`, only those are accepted."""
    return create_woo_sandbox_app(new_woo_state(seed, key=key, secret=secret, cogs=cogs))
