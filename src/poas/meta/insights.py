"""Marketing API insights client: daily ad-level spend with cursor paging, async runs and throttling."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from poas.domain.money import check_currency
from poas.domain.report_rows import ZERO, SpendRow

log = logging.getLogger(__name__)

FIELDS = (
    "spend,impressions,clicks,actions,action_values,account_currency,campaign_id,campaign_name,"
    "adset_id,adset_name,ad_id,ad_name,date_start,date_stop"
)
# Meta reports the same purchases under several overlapping action types; the first present wins.
PURCHASE_ACTIONS = ("offsite_conversion.fb_pixel_purchase", "purchase", "omni_purchase")
THROTTLE_CODES = frozenset({4, 17, 32, 613, 80000, 80003, 80004, 80014})
_TOKEN_IN_TEXT = re.compile(r"(access_token|appsecret_proof)=[^&\s\"']+")


def redact(text: str) -> str:
    """Mask access tokens and proofs inside URLs or messages."""
    return _TOKEN_IN_TEXT.sub(r"\1=***", text)


def _redact_arg(arg: object) -> object:
    if isinstance(arg, int | float):
        return arg
    text = str(arg)
    masked = redact(text)
    return masked if masked != text else arg


class _RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        record.msg = redact(str(record.msg))
        return True


# httpx logs each request URL at INFO; the token travels in the query string, so mask it there.
logging.getLogger("httpx").addFilter(_RedactFilter())


class InsightsError(RuntimeError):
    """A Graph error from the insights API (message already free of the token)."""

    def __init__(self, message: str, *, code: int | None = None, subcode: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.subcode = subcode

    @property
    def throttled(self) -> bool:
        return self.code in THROTTLE_CODES

    @property
    def too_much_data(self) -> bool:
        return self.code == 100 and self.subcode == 1487534


def usage_wait_seconds(headers: httpx.Headers, threshold_pct: float) -> float:
    """Seconds to pause before the next call, from Meta's usage headers (0 = go on)."""
    pct = 0.0
    regain_min = 0.0
    for name in ("x-business-use-case-usage", "x-ad-account-usage", "x-fb-ads-insights-throttle"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        entries: list[dict[str, Any]] = []
        if name == "x-business-use-case-usage" and isinstance(data, dict):
            for value in data.values():
                entries.extend(v for v in value if isinstance(v, dict))
        elif isinstance(data, dict):
            entries.append(data)
        for e in entries:
            for key in ("call_count", "total_cputime", "total_time", "acc_id_util_pct", "app_id_util_pct"):
                if isinstance(e.get(key), int | float):
                    pct = max(pct, float(e[key]))
            if isinstance(e.get("estimated_time_to_regain_access"), int | float):
                regain_min = max(regain_min, float(e["estimated_time_to_regain_access"]))
    if regain_min > 0:
        return regain_min * 60
    if pct >= threshold_pct:
        # The usage windows are rolling hours: wait longer the closer we are to the limit.
        return 10.0 + (pct - threshold_pct) * 3
    return 0.0


def _decimal(value: object, where: str) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else ZERO
    except InvalidOperation:
        raise InsightsError(f"insights row {where}: {value!r} is not a number") from None


def _action_value(items: object, where: str) -> Decimal:
    if not isinstance(items, list):
        return ZERO
    by_type = {str(i.get("action_type")): i.get("value") for i in items if isinstance(i, dict)}
    for action in PURCHASE_ACTIONS:
        if action in by_type:
            return _decimal(by_type[action], where)
    return ZERO


def row_from_insight(account_id: str, row: dict[str, Any]) -> SpendRow:
    """One Meta insights row (string numbers, action lists) as a SpendRow."""
    where = f"{row.get('date_start')}/{row.get('ad_id')}"
    purchases = _action_value(row.get("actions"), where)
    return SpendRow(
        account_id=account_id,
        day=date.fromisoformat(str(row["date_start"])),
        currency=check_currency(str(row.get("account_currency", ""))),
        spend=_decimal(row.get("spend"), where),
        campaign_id=row.get("campaign_id"),
        campaign_name=row.get("campaign_name"),
        adset_id=row.get("adset_id"),
        adset_name=row.get("adset_name"),
        ad_id=row.get("ad_id"),
        ad_name=row.get("ad_name"),
        impressions=int(_decimal(row.get("impressions"), where)),
        clicks=int(_decimal(row.get("clicks"), where)),
        meta_purchases=int(purchases),
        meta_purchase_value=_action_value(row.get("action_values"), where),
    )


class InsightsClient:
    """Reads daily ad-level insights for one ad account. `sleep` is injectable for tests."""

    def __init__(
        self,
        *,
        base_url: str,
        version: str,
        access_token: str,
        app_secret: str | None = None,
        timeout_s: float = 30.0,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        usage_threshold_pct: float = 75.0,
        async_after_days: int = 31,
        poll_interval_s: float = 2.0,
        max_polls: int = 300,
        max_retries: int = 4,
    ) -> None:
        self._base = f"{base_url.rstrip('/')}/{version}"
        self._token = access_token
        self._proof = (
            hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()
            if app_secret
            else None
        )
        self._http = http or httpx.Client(timeout=timeout_s)
        self._sleep = sleep
        self._threshold = usage_threshold_pct
        self._async_after_days = async_after_days
        self._poll_interval = poll_interval_s
        self._max_polls = max_polls
        self._max_retries = max_retries
        self.slept: list[float] = []

    def close(self) -> None:
        self._http.close()

    def _auth(self) -> dict[str, str]:
        params = {"access_token": self._token}
        if self._proof:
            params["appsecret_proof"] = self._proof
        return params

    def _call(self, method: str, path: str, params: dict[str, str]) -> dict[str, Any]:
        url = f"{self._base}/{path}"
        for attempt in range(self._max_retries + 1):
            try:
                resp = self._http.request(method, url, params={**params, **self._auth()})
            except httpx.TransportError as exc:
                if attempt >= self._max_retries:
                    raise InsightsError(f"insights {method} {path}: {type(exc).__name__}") from None
                self._pause(2.0**attempt)
                continue
            wait = usage_wait_seconds(resp.headers, self._threshold)
            if resp.status_code >= 500 and attempt < self._max_retries:
                self._pause(max(wait, 2.0**attempt))
                continue
            body = self._json(resp, method, path)
            if "error" in body:
                err = body["error"]
                exc2 = InsightsError(
                    redact(f"insights {method} {path}: ({err.get('code')}) {err.get('message', '')}"),
                    code=err.get("code"),
                    subcode=err.get("error_subcode"),
                )
                if exc2.throttled and attempt < self._max_retries:
                    self._pause(max(wait, 60.0 * (attempt + 1)))
                    continue
                raise exc2
            if wait:
                self._pause(wait)
            return body
        raise InsightsError(f"insights {method} {path}: gave up after {self._max_retries} retries")

    @staticmethod
    def _json(resp: httpx.Response, method: str, path: str) -> dict[str, Any]:
        try:
            body = resp.json()
        except ValueError:
            raise InsightsError(f"insights {method} {path}: HTTP {resp.status_code}, not JSON") from None
        if not isinstance(body, dict):
            raise InsightsError(f"insights {method} {path}: unexpected body")
        return body

    def _pause(self, seconds: float) -> None:
        self.slept.append(seconds)
        log.info("insights: pausing %.1f s (throttle/backoff)", seconds)
        self._sleep(seconds)

    def _pages(self, path: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Follow `paging.cursors.after` while `paging.next` exists (next carries the token: not used)."""
        after: str | None = None
        while True:
            body = self._call("GET", path, {**params, **({"after": after} if after else {})})
            yield from body.get("data", [])
            paging = body.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:
                return

    def fetch(self, account_id: str, since: date, until: date) -> Iterator[SpendRow]:
        """Daily rows per ad for [since, until]; long ranges go through an async report run."""
        account = account_id.removeprefix("act_")
        params = {
            "level": "ad",
            "time_increment": "1",
            "fields": FIELDS,
            "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
            "limit": "500",
        }
        if (until - since).days + 1 > self._async_after_days:
            rows = self._fetch_async(account, params)
        else:
            try:
                rows = list(self._pages(f"act_{account}/insights", params))
            except InsightsError as exc:
                if not exc.too_much_data:
                    raise
                rows = self._fetch_async(account, params)
        for row in rows:
            yield row_from_insight(account, row)

    def _fetch_async(self, account: str, params: dict[str, str]) -> list[dict[str, Any]]:
        started = self._call("POST", f"act_{account}/insights", params)
        run_id = str(started.get("report_run_id", ""))
        if not run_id:
            raise InsightsError("insights: the async report run returned no report_run_id")
        for _ in range(self._max_polls):
            status = self._call("GET", run_id, {"fields": "async_status,async_percent_completion"})
            state = status.get("async_status")
            if state == "Job Completed":
                return list(self._pages(f"{run_id}/insights", {"limit": params["limit"]}))
            if state in ("Job Failed", "Job Skipped"):
                raise InsightsError(f"insights: report run {run_id} ended with {state}")
            self._pause(self._poll_interval)
        raise InsightsError(f"insights: report run {run_id} not complete after {self._max_polls} polls")
