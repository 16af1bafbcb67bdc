"""The FastAPI application: webhooks, the JSON API and the dashboard, each a router of its own."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from poas.settings import Settings
from poas.web import (
    api,
    api_docs,
    auth,
    costs_pages,
    customer_pages,
    dashboard,
    drilldown,
    errors,
    i18n,
    intake_api,
    metrics,
    settings_pages,
    webhooks,
)


def create_app(settings: Settings, engine: Engine) -> FastAPI:
    # The OpenAPI document, Swagger UI and ReDoc are served by api_docs, behind login.
    app = FastAPI(title="poas", version="0.1.0", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.include_router(webhooks.router)
    app.include_router(intake_api.router)
    auth.install(app, settings)  # session cookie + /login; webhooks keep their own signatures
    i18n.install(app)  # language (cookie, Accept-Language), the shop's zone; GET /language
    app.include_router(api.router)
    app.include_router(customer_pages.api_router)  # /api/v1/cohorts, ltv-calibration, value-rules
    app.include_router(api_docs.router)
    app.include_router(metrics.router)
    app.include_router(costs_pages.router)
    app.include_router(settings_pages.router)
    app.include_router(dashboard.router)
    app.include_router(drilldown.router)  # /ads: campaign → ad set → ad
    app.include_router(customer_pages.router)  # /customers: cohorts
    app.mount("/static", dashboard.static_files(), name="static")
    errors.install(app)  # HTML pages for the dashboard, JSON for /api/* and the webhooks
    return app
