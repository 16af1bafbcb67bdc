"""Google Ads API search over REST (httpx): daily cost per ad group and campaign, paged, OAuth refreshed.

One `googleAds:search` per query and page (`pageToken` until `nextPageToken` is empty; the page size
is Google's own since v17, setting one is an error). Each request carries `Authorization: Bearer`
(an access token from the OAuth refresh-token exchange, renewed before it runs out and once more
when Google refuses it), `developer-token` when one is configured, and `login-customer-id` when the
account is reached through a manager account. Quota (`RESOURCE_EXHAUSTED`) and 5xx answers are
retried after Google's `retryDelay` (or a short backoff), a few times; everything else is raised at
once, one line naming what to fix.

Spend is read at two levels so Performance Max (campaigns without ad groups) is not lost: the
ad groups' cost, and each campaign's cost beyond its ad groups' as a campaign-level row.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from poas.domain.report_rows import SpendRow
from poas.google.ads_errors import GoogleAdsError, classify, oauth_error

API_URL = "https://googleads.googleapis.com"
API_VERSION = "v26"  # the newest Google Ads API version when this was written (2026-10)
TOKEN_URL = "https://oauth2.googleapis.com/token"
MICROS = Decimal(1_000_000)
MAX_ATTEMPTS = 4  # a quota or 5xx answer is tried again this many times in all
MAX_WAIT_S = 60.0  # a longer retryDelay is not waited for: the sync fails and says so
REFRESH_MARGIN_S = 60.0

AD_GROUP_QUERY = (
    "SELECT customer.currency_code, campaign.id, campaign.name, ad_group.id, ad_group.name, "
    "segments.date, metrics.cost_micros FROM ad_group "
    "WHERE segments.date BETWEEN '{since}' AND '{until}' AND metrics.cost_micros > 0"
)
CAMPAIGN_QUERY = (
    "SELECT customer.currency_code, campaign.id, campaign.name, segments.date, metrics.cost_micros "
    "FROM campaign WHERE segments.date BETWEEN '{since}' AND '{until}' AND metrics.cost_micros > 0"
)


def customer_digits(text: str) -> str:
    """'123-456-7890' or '1234567890' → '1234567890'; anything else is refused."""
    digits = text.replace("-", "").strip()
    if len(digits) != 10 or not digits.isdigit():
        raise GoogleAdsError(
            f"{text[:20]!r} is not a Google Ads customer id (10 digits, e.g. 123-456-7890)", kind="invalid"
        )
    return digits


@dataclass(frozen=True, slots=True)
class GoogleAdsCredentials:
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    developer_token: str | None = field(default=None, repr=False)
    login_customer_id: str | None = None  # the manager account's id when one is used


class GoogleAdsClient:
    def __init__(
        self,
        credentials: GoogleAdsCredentials,
        *,
        base_url: str = API_URL,
        version: str = API_VERSION,
        token_url: str = TOKEN_URL,
        timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        http: httpx.Client | None = None,
    ) -> None:
        self.credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.version = version
        self.token_url = token_url
        self.sleep = sleep
        self.clock = clock
        self.http = http or httpx.Client(timeout=timeout_s)
        self._own_http = http is None
        self._token: str | None = None
        self._token_until = 0.0
        self.requests = 0  # search requests sent (pages and retries), for tests and logs
        self.refreshes = 0

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> GoogleAdsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- OAuth ---------------------------------------------------------------------------------

    def _refresh(self) -> str:
        c = self.credentials
        form = {
            "grant_type": "refresh_token",
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "refresh_token": c.refresh_token,
        }
        try:
            resp = self.http.post(self.token_url, data=form)
        except httpx.HTTPError as exc:
            raise GoogleAdsError(f"Google OAuth: {type(exc).__name__}", kind="transient") from None
        body = _json(resp)
        if resp.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
            raise oauth_error(resp.status_code, body)
        self.refreshes += 1
        self._token = str(body["access_token"])
        self._token_until = self.clock() + float(body.get("expires_in") or 3600) - REFRESH_MARGIN_S
        return self._token

    def access_token(self) -> str:
        if self._token is None or self.clock() >= self._token_until:
            return self._refresh()
        return self._token

    # -- search --------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.access_token()}"}
        if self.credentials.developer_token:
            headers["developer-token"] = self.credentials.developer_token
        if self.credentials.login_customer_id:
            headers["login-customer-id"] = customer_digits(self.credentials.login_customer_id)
        return headers

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            self.requests += 1
            try:
                resp = self.http.post(url, json=body, headers=self._headers())
            except httpx.HTTPError as exc:
                err = GoogleAdsError(f"Google Ads API: {type(exc).__name__}", kind="transient")
            else:
                data = _json(resp)
                if resp.status_code == 200 and isinstance(data, dict):
                    return data
                err = classify(resp.status_code, data, what="Google Ads API search")
            if err.token_refused and not refreshed:
                refreshed = True
                self._token = None  # the next _headers() exchanges the refresh token again
                attempt -= 1
                continue
            if err.kind in ("quota", "transient") and attempt < MAX_ATTEMPTS:
                wait = err.retry_after_s if err.retry_after_s is not None else min(2.0**attempt, 30.0)
                if wait <= MAX_WAIT_S:
                    self.sleep(wait)
                    continue
            raise err

    def search(self, customer_id: str, query: str) -> Iterator[dict[str, Any]]:
        """Every result row of `query`, page after page."""
        cid = customer_digits(customer_id)
        url = f"{self.base_url}/{self.version}/customers/{cid}/googleAds:search"
        token = ""
        while True:
            body: dict[str, Any] = {"query": query}
            if token:
                body["pageToken"] = token
            page = self._post(url, body)
            yield from page.get("results") or []
            token = str(page.get("nextPageToken") or "")
            if not token:
                return

    def fetch_spend(self, customer_id: str, since: date, until: date) -> list[SpendRow]:
        """Daily cost per ad group, plus each campaign's cost outside its ad groups."""
        cid = customer_digits(customer_id)
        dates = {"since": since.isoformat(), "until": until.isoformat()}
        rows: list[SpendRow] = []
        in_groups: dict[tuple[str, date], int] = defaultdict(int)
        for r in self.search(cid, AD_GROUP_QUERY.format(**dates)):
            row, micros = _row(cid, r, ad_group=True)
            in_groups[(row.campaign_id or "", row.day)] += micros
            rows.append(row)
        for r in self.search(cid, CAMPAIGN_QUERY.format(**dates)):
            row, micros = _row(cid, r, ad_group=False)
            rest = micros - in_groups.get((row.campaign_id or "", row.day), 0)
            if rest > 0:
                rows.append(_with_spend(row, rest))
        return rows


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _row(cid: str, r: dict[str, Any], *, ad_group: bool) -> tuple[SpendRow, int]:
    try:
        micros = int((r.get("metrics") or {}).get("costMicros") or 0)
        day = date.fromisoformat(str(r["segments"]["date"]))
        currency = str(r["customer"]["currencyCode"])
        campaign = r["campaign"]
        group = (r.get("adGroup") or {}) if ad_group else {}
    except (KeyError, TypeError, ValueError) as exc:
        raise GoogleAdsError(
            f"Google Ads API search: a result row lacks {exc} (customer.currency_code, segments.date, "
            "metrics.cost_micros are selected)",
            kind="invalid",
        ) from None
    row = SpendRow(
        account_id=cid,
        day=day,
        currency=currency,
        spend=Decimal(micros) / MICROS,
        campaign_id=str(campaign.get("id") or "") or None,
        campaign_name=campaign.get("name"),
        adset_id=str(group.get("id") or "") or None,
        adset_name=group.get("name"),
        channel="google",
    )
    return row, micros


def _with_spend(row: SpendRow, micros: int) -> SpendRow:
    return replace(row, spend=Decimal(micros) / MICROS)
