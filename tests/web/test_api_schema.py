"""Schemathesis over the published OpenAPI document (in-process ASGI): no request gets a 500.

Runs on SQLite and PostgreSQL (the `engine` fixture), against a store holding an order, its profit
and events, and dead events, as the admin, as a shop, and without a token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from browser_kit import seed_delivery, seed_order, utcnow
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine

from conftest import web_settings
from poas.web.app import create_app

ADMIN = {"Authorization": "Bearer browser-admin-token"}
SHOP = {"Authorization": "Bearer nordic-api-token-0001"}
GUARDED = ("/api/v1/delivery", "/api/v1/report", "/api/v1/costs", "/api/v1/orders/")


@pytest.fixture
def seeded_app(engine: Engine, tmp_path: Any) -> FastAPI:
    s = web_settings(tmp_path)
    now = utcnow()
    seed_order(engine, s.shops[0], now)
    seed_delivery(engine, now)
    return create_app(s, engine)


def run_all(app: FastAPI, examples: int, check: Callable[[Any], None]) -> list[str]:
    """Every operation in the document, `examples` generated requests each; returns what ran."""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, headers=ADMIN)  # behind login
    ran = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(operation.as_strategy())
        @settings(
            max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def one(case: Any) -> None:
            check(case)

        one()
        ran.append(f"{operation.method.upper()} {operation.path}")
    return ran


def test_no_server_errors_as_admin(seeded_app: FastAPI) -> None:
    def check(case: Any) -> None:
        response = case.call(headers=ADMIN)
        assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])

    ran = run_all(seeded_app, 60, check)
    assert {"GET /api/v1/report", "POST /api/v1/costs", "GET /api/v1/orders/{shop_id}/{order_id}"} <= set(ran)


def test_no_server_errors_as_a_shop(seeded_app: FastAPI) -> None:
    def check(case: Any) -> None:
        response = case.call(headers=SHOP)
        assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])

    run_all(seeded_app, 20, check)


def test_without_a_token_the_api_answers_401(seeded_app: FastAPI) -> None:
    def check(case: Any) -> None:
        response = case.call()
        assert response.status_code < 500
        guarded = case.path.startswith(GUARDED) or (case.path == "/api/v1/orders" and case.method == "GET")
        if guarded:
            assert response.status_code in (401, 422), (
                case.method,
                case.formatted_path,
                response.status_code,
            )

    run_all(seeded_app, 10, check)
