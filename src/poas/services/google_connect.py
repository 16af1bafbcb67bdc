"""`poas connect google SHOP`: check the shop's Google set-up against Google without sending a
conversion: the OAuth refresh token (an access token is issued), then, for every configured conversion
action, a `validateOnly` events:ingest request with a probe event (Google checks access to the account
and the destination and records nothing); and that the Google Ads API credentials are there when
corrections go through it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from poas.domain.delivery_errors import DeliveryError, Disposition
from poas.domain.destinations import google_destination_id
from poas.google.datamanager import DataManagerClient, GoogleCredentials
from poas.services.deliver import google_ads_api_credentials, google_credentials
from poas.services.doctor import Check, Level
from poas.settings import Settings, ShopConfig

PROBE_ID = "poas-connect-check"


def _probe(shop: ShopConfig, now: datetime) -> str:
    stamp = now.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return (
        f'{{"transactionId":"{PROBE_ID}","eventTimestamp":"{stamp}","conversionValue":1,'
        f'"currency":"{shop.currency}","adIdentifiers":{{"gclid":"{PROBE_ID}"}},'
        '"consent":{"adUserData":"CONSENT_GRANTED"}}'
    )


def _failed(name: str, what: str, err: DeliveryError) -> Check:
    if err.disposition is Disposition.PAUSE:
        fix = (
            "check the customer id and conversion action id in Google Ads, and that the Google user of the "
            "refresh token can access that account (through login_customer_id for a manager account)"
        )
        if err.http_status in (400, 401) and "OAuth" in err.message:
            fix = (
                "create a new refresh token (scope https://www.googleapis.com/auth/datamanager) "
                "for this client"
            )
        return Check(name, Level.FAIL, f"{what}: {err.describe()}", fix)
    if err.disposition in (Disposition.RETRY, Disposition.THROTTLE):
        return Check(name, Level.FAIL, f"{what} failed for now: {err.describe()}", "try again shortly")
    return Check(name, Level.FAIL, f"{what}: {err.describe()}", "")


async def _checks(settings: Settings, shop: ShopConfig, creds: GoogleCredentials) -> list[Check]:
    client = DataManagerClient(
        settings.google_datamanager_url, settings.google_token_url, timeout_s=settings.google_timeout_s
    )
    checks: list[Check] = []
    try:
        try:
            await client.access_token(creds)
        except DeliveryError as err:
            return [_failed("OAuth", "the refresh token was refused", err)]
        checks.append(Check("OAuth", Level.OK, f"client {creds.client_id} issued an access token"))
        probe = _probe(shop, datetime.now(UTC))
        for action in shop.google.conversion_actions:
            dest = google_destination_id(action.customer_id, action.conversion_action_id)
            name = f"conversion action {action.conversion_action_id}"
            try:
                await client.send(dest, [probe], replace(creds, validate_only=True))
            except DeliveryError as err:
                checks.append(
                    _failed(name, f"account {action.customer_id} refused a validateOnly request", err)
                )
                continue
            checks.append(
                Check(
                    name,
                    Level.OK,
                    f"account {action.customer_id} accepts events for it (validateOnly); "
                    f"value: {action.value}",
                )
            )
    finally:
        await client.aclose()
    return checks


def connect_google(settings: Settings, shop: ShopConfig) -> list[Check]:
    """The checks, in order; any FAIL means conversions will not reach Google."""
    if not shop.google.conversion_actions:
        return [
            Check(
                "conversion actions",
                Level.FAIL,
                "no Google Ads conversion action is configured",
                "add [[shops.google.conversion_actions]] customer_id / conversion_action_id (docs/google.md)",
            )
        ]
    creds = google_credentials(shop)
    if creds is None:
        return [
            Check(
                "OAuth",
                Level.FAIL,
                "no OAuth client id, client secret and refresh token",
                "set [shops.google] client_id, client_secret and refresh_token (or the google_ads_* ones)",
            )
        ]
    checks = asyncio.run(_checks(settings, shop, creds))
    if shop.google.adjustments == "google_ads_api":
        if google_ads_api_credentials(shop) is None:
            checks.append(
                Check(
                    "Google Ads API adjustments",
                    Level.FAIL,
                    "adjustments = google_ads_api needs a developer token and OAuth credentials",
                    "set google_ads_developer_token (and google_ads_client_id / _secret / _refresh_token)",
                )
            )
        else:
            checks.append(
                Check("Google Ads API adjustments", Level.OK, "credentials and developer token are set")
            )
    return checks
