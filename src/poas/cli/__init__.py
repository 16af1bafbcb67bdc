"""The `poas` command: one module per area attaches its commands to `poas.cli.app.app`."""

from __future__ import annotations

from poas.cli import (  # noqa: F401  (imported for their commands)
    alerts,
    calc,
    connect_google,
    connect_meta,
    costs,
    customer_value,
    customers,
    db,
    delivery,
    demo,
    doctor,
    fx,
    google_ads,
    imports,
    init,
    intake,
    meta,
    orders,
    reports,
    returns,
    shopify,
    sync,
    web,
    woocommerce,
)
from poas.cli.app import app


def main() -> None:
    app()
