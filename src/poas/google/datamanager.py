"""Data Manager API sender: `POST {base}/v1/events:ingest` over httpx with an OAuth2 access token
obtained from a refresh token (scope https://www.googleapis.com/auth/datamanager).

One request carries one destination (the Google Ads account and conversion action of the claim) and at
most `MAX_EVENTS` events; the body is spliced from the stored event JSON. Errors arrive classified
(`poas.google.errors`). Sending an event again with the same `transactionId` to the same conversion
action restates it; Google does not count it twice."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import httpx

from poas.domain.delivery_errors import Disposition
from poas.domain.destinations import GOOGLE_ADS, parse_google_destination
from poas.google.errors import GoogleError, from_response, redact, transport_error

MAX_EVENTS = 2000  # IngestEventsRequest: at most 2000 Event resources per request
INGEST_PATH = "/v1/events:ingest"
DEFAULT_BASE_URL = "https://datamanager.googleapis.com"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/datamanager"
# Google Ads imports click conversions up to 90 days after the click; keep a day in hand.
MAX_EVENT_AGE = timedelta(days=89)
TOKEN_MARGIN_S = 60.0  # refresh an access token this long before it expires


@dataclass(frozen=True, slots=True)
class GoogleCredentials:
    """An OAuth client and a user's refresh token; `login_customer_id` when access is through a manager
    account; `validate_only` makes Google check the request without ingesting it."""

    client_id: str
    client_secret: str
    refresh_token: str
    login_customer_id: str | None = None
    validate_only: bool = False
    developer_token: str | None = (
        None  # the Google Ads API's (adjustments through ConversionAdjustmentUploadService)
    )

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.client_secret, self.refresh_token, self.developer_token or "")


@dataclass(frozen=True, slots=True)
class Accepted:
    """A 200 from events:ingest: the whole request was accepted (fast-fail: all or nothing)."""

    events_received: int
    fbtrace_id: str | None  # Google's requestId, in the field the delivery log keeps trace ids in
    http_status: int
    latency_ms: int


def request_body(destination_id: str, payloads: Sequence[str], creds: GoogleCredentials) -> str:
    customer, action = parse_google_destination(destination_id)
    destination: dict[str, object] = {
        "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": customer},
        "productDestinationId": action,
    }
    if creds.login_customer_id:
        destination["loginAccount"] = {"accountType": "GOOGLE_ADS", "accountId": creds.login_customer_id}
    head = json.dumps({"destinations": [destination]}, separators=(",", ":"))[:-1]
    tail = json.dumps({"encoding": "HEX", "validateOnly": creds.validate_only}, separators=(",", ":"))[1:]
    return f'{head},"events":[{",".join(payloads)}],{tail}'


class DataManagerClient:
    """Sends Data Manager API event batches; reuse one instance (it keeps connections and tokens)."""

    kind = GOOGLE_ADS
    max_batch = MAX_EVENTS
    max_event_age = MAX_EVENT_AGE

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        token_url: str = DEFAULT_TOKEN_URL,
        *,
        timeout_s: float = 10.0,
        max_connections: int = 8,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url
        self.timeout_s = timeout_s
        self._http = httpx.AsyncClient(
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=max_connections),
            transport=transport,
        )
        self._tokens: dict[str, tuple[str, float]] = {}  # key of (client, refresh token) -> (token, expiry)
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    @staticmethod
    def _key(creds: GoogleCredentials) -> str:
        return hashlib.sha256(f"{creds.client_id}\0{creds.refresh_token}".encode()).hexdigest()

    async def access_token(self, creds: GoogleCredentials, *, fresh: bool = False) -> str:
        """A valid access token for these credentials (refreshed when near expiry or `fresh`)."""
        key = self._key(creds)
        async with self._lock:
            cached = self._tokens.get(key)
            if cached and not fresh and cached[1] - TOKEN_MARGIN_S > time.monotonic():
                return cached[0]
            form = {
                "grant_type": "refresh_token",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
                "refresh_token": creds.refresh_token,
            }
            try:
                resp = await self._http.post(self.token_url, data=form)
            except httpx.HTTPError as exc:
                raise transport_error(exc, creds.secrets) from None
            if resp.status_code != 200:
                raise _token_error(resp, creds)
            body = resp.json()
            token = str(body["access_token"])
            self._tokens[key] = (token, time.monotonic() + float(body.get("expires_in", 3600)))
            return token

    async def send(self, destination_id: str, payloads: Sequence[str], creds: GoogleCredentials) -> Accepted:
        """One events:ingest request; raises a classified GoogleError."""
        if not 1 <= len(payloads) <= MAX_EVENTS:
            raise ValueError(f"a request carries 1..{MAX_EVENTS} events")
        body = request_body(destination_id, payloads, creds).encode()
        started = time.monotonic()
        resp = await self._post(body, await self.access_token(creds), creds)
        if resp.status_code == 401:  # the access token may have been revoked early: one fresh try
            resp = await self._post(body, await self.access_token(creds, fresh=True), creds)
        latency = round((time.monotonic() - started) * 1000)
        if resp.status_code != 200:
            err = from_response(resp.status_code, resp.content, creds.secrets)
            err.latency_ms = latency
            raise err
        try:
            request_id = resp.json().get("requestId")
        except ValueError:
            request_id = None
        return Accepted(len(payloads), str(request_id) if request_id else None, 200, latency)

    async def _post(self, body: bytes, token: str, creds: GoogleCredentials) -> httpx.Response:
        return await self._post_to(self.base_url + INGEST_PATH, body, token, creds)

    async def _post_to(self, url: str, body: bytes, token: str, creds: GoogleCredentials) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        if creds.login_customer_id:
            headers["login-customer-id"] = creds.login_customer_id
        if creds.developer_token:
            headers["developer-token"] = creds.developer_token
        try:
            return await self._http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise transport_error(exc, (*creds.secrets, token)) from None


def _token_error(resp: httpx.Response, creds: GoogleCredentials) -> GoogleError:
    """OAuth token endpoint errors: a refused grant or client pauses; a server error is retried."""
    try:
        body = resp.json()
        code = str(body.get("error") or "")
        text = str(body.get("error_description") or code or "no message")
    except ValueError:
        code, text = "", resp.text[:200]
    disposition = Disposition.RETRY if resp.status_code >= 500 else Disposition.PAUSE
    if resp.status_code == 429:
        disposition = Disposition.THROTTLE
    message = redact(f"OAuth token refresh refused ({code or resp.status_code}): {text}", creds.secrets)
    return GoogleError(disposition, message, http_status=resp.status_code, error_type=code or None)
