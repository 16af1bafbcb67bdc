"""CLI: `poas sandbox google-ads` (a local Google Ads API serving spend search and OAuth)."""

from __future__ import annotations

import typer
import uvicorn

from poas.cli.app import console
from poas.cli.meta import sandbox_app
from poas.services.google_spend import SANDBOX_CLIENT_ID, SANDBOX_REFRESH_TOKEN, new_google_ads_sandbox_app


@sandbox_app.command("google-ads")
def sandbox_google_ads(
    port: int = typer.Option(8557, "--port", help="port to listen on"),
    host: str = typer.Option("127.0.0.1", "--host"),
) -> None:
    """Run the Google Ads API sandbox (spend search, OAuth) in the foreground (Ctrl-C stops it)."""
    url = f"http://{host}:{port}"
    console.print(
        f"Google Ads sandbox on {url}: POAS_GOOGLE_ADS_API_URL={url} POAS_GOOGLE_ADS_TOKEN_URL={url}/token; "
        f"OAuth client {SANDBOX_CLIENT_ID}, refresh token {SANDBOX_REFRESH_TOKEN} "
        "(sandbox values, not secrets); "
        "load accounts with POST /_sandbox/google-ads/accounts",
        highlight=False,
    )
    uvicorn.run(new_google_ads_sandbox_app(), host=host, port=port, log_level="warning")
