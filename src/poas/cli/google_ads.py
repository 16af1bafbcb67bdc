"""CLI: `poas sandbox google-ads` (a local Google Ads API serving spend search and OAuth)."""

from __future__ import annotations

import typer

from poas.cli.app import console
from poas.cli.meta import sandbox_app


@sandbox_app.command("google-ads")
def sandbox_google_ads(
    port: int = typer.Option(8557, "--port", help="port to listen on"),
    host: str = typer.Option("127.0.0.1", "--host"),
) -> None:
    """Run the Google Ads API sandbox (spend search, OAuth) in the foreground (Ctrl-C stops it)."""
    import uvicorn  # the sandboxes' web stack only for the commands that serve one

    from poas.services import google_ads_sandbox as sandbox

    url = f"http://{host}:{port}"
    console.print(
        f"Google Ads sandbox on {url}: POAS_GOOGLE_ADS_API_URL={url} POAS_GOOGLE_ADS_TOKEN_URL={url}/token; "
        f"OAuth client {sandbox.SANDBOX_CLIENT_ID}, refresh token {sandbox.SANDBOX_REFRESH_TOKEN} "
        "(sandbox values, not secrets); "
        "load accounts with POST /_sandbox/google-ads/accounts",
        highlight=False,
    )
    uvicorn.run(sandbox.new_google_ads_sandbox_app(), host=host, port=port, log_level="warning")
