"""The local Google Ads API sandbox as the faces use it (`poas sandbox google-ads`): its app and the
OAuth client and refresh token it accepts. Imported only by the command that serves it, since it
brings the web stack."""

from __future__ import annotations

from fastapi import FastAPI

from poas.google import sandbox_ads

SANDBOX_CLIENT_ID = sandbox_ads.CLIENT_ID
SANDBOX_REFRESH_TOKEN = sandbox_ads.REFRESH_TOKEN


def new_google_ads_sandbox_app() -> FastAPI:
    """A fresh Google Ads sandbox (spend search, OAuth) with its default client and refresh token."""
    return sandbox_ads.create_google_ads_app()
