"""The local Shopify sandbox as the faces use it: its app to serve (`poas sandbox shopify`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from poas.connectors.shopify_sandbox import create_shopify_sandbox_app, seeded_state
from poas.connectors.shopify_sandbox_data import SeedError

__all__ = ["SeedError", "new_shopify_sandbox_app"]


def new_shopify_sandbox_app(seed: Path | None = None, *, token: str | None = None) -> FastAPI:
    """A sandbox app over the seed directory (orders/*.json, variants.csv); with `token`, only that
    static token (or one it issued) is accepted. Raises SeedError naming a bad seed file."""
    return create_shopify_sandbox_app(seeded_state(seed, token=token))
