"""A local Google Ads API for spend: OAuth token exchange, `googleAds:search` with paging, errors, quota.

It answers what poas asks (`FROM ad_group` / `FROM campaign` with `segments.date BETWEEN`, the
fields the spend sync selects) the way Google documents it: results as JSON with camelCase fields
and int64 as strings, `nextPageToken` until the last page (a token for another query is
`INVALID_PAGE_TOKEN`; `pageSize` is `PAGE_SIZE_NOT_SUPPORTED`), and failures in Google's error model
with a `GoogleAdsFailure` detail (`UNAUTHENTICATED` 401, `PERMISSION_DENIED` 403 with
`USER_PERMISSION_DENIED` when a manager's account is read without `login-customer-id`,
`RESOURCE_EXHAUSTED` 429 with `quotaErrorDetails.retryDelay`). Faults are injected on request.

Control endpoints (not Google's): `POST /_sandbox/google-ads/accounts` (an account and its daily
cost rows), `POST /_sandbox/google-ads/faults`, `POST /_sandbox/google-ads/revoke`,
`GET /_sandbox/google-ads/calls`.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from poas.local_server import serve_in_thread

CLIENT_ID = "sandbox-client.apps.googleusercontent.com"
CLIENT_SECRET = "sandbox-client-secret"
REFRESH_TOKEN = "1//sandbox-refresh-token"
PAGE_SIZE = 10_000  # Google's fixed page size for search since v17

_FIELDS = {
    "ad_group": {
        "customer.currency_code",
        "campaign.id",
        "campaign.name",
        "ad_group.id",
        "ad_group.name",
        "segments.date",
        "metrics.cost_micros",
    },
    "campaign": {
        "customer.currency_code",
        "campaign.id",
        "campaign.name",
        "segments.date",
        "metrics.cost_micros",
    },
}
_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<resource>\w+)\s+"
    r"WHERE\s+segments\.date\s+BETWEEN\s+'(?P<since>\d{4}-\d{2}-\d{2})'\s+AND\s+'(?P<until>\d{4}-\d{2}-\d{2})'"
    r"(?P<cost>\s+AND\s+metrics\.cost_micros\s*>\s*0)?\s*$",
    re.I | re.S,
)


@dataclass
class CostRow:
    """One ad group's (or, without one, a campaign's) cost on one day."""

    day: date
    campaign_id: str
    campaign_name: str
    cost_micros: int
    ad_group_id: str | None = None
    ad_group_name: str | None = None


@dataclass
class Account:
    customer_id: str
    currency: str
    manager_id: str | None = None  # reached only with login-customer-id = this manager
    rows: list[CostRow] = field(default_factory=list)


@dataclass
class Fault:
    kind: str  # quota | unavailable | token_expired
    count: int = 1
    retry_delay_s: int = 1


@dataclass
class GoogleAdsState:
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    refresh_tokens: set[str] = field(default_factory=lambda: {REFRESH_TOKEN})
    developer_token: str | None = None  # when set, requests must carry it
    token_lifetime_s: int = 3599
    page_size: int = PAGE_SIZE
    accounts: dict[str, Account] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    calls: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _n: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def add_account(self, account: Account, *, replace: bool = True) -> None:
        with self.lock:
            old = self.accounts.get(account.customer_id)
            if old is not None and not replace:
                old.rows.extend(account.rows)
            else:
                self.accounts[account.customer_id] = account

    def add_fault(self, kind: str, count: int = 1, retry_delay_s: int = 1) -> None:
        with self.lock:
            self.faults.append(Fault(kind, count, retry_delay_s))

    def revoke(self) -> None:
        """The user removed poas's access: the refresh token and its access tokens stop working."""
        with self.lock:
            self.refresh_tokens.clear()
            self.tokens.clear()

    def take_fault(self) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.count > 0:
                    f.count -= 1
                    return f
        return None


def _failure(http: int, status: str, message: str, errors: list[dict[str, Any]]) -> JSONResponse:
    request_id = hashlib.sha256(message.encode() + str(len(errors)).encode()).hexdigest()[:22]
    body = {
        "error": {
            "code": http,
            "message": message,
            "status": status,
            "details": [
                {
                    "@type": "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure",
                    "errors": errors,
                    "requestId": request_id,
                }
            ],
        }
    }
    return JSONResponse(body, status_code=http, headers={"request-id": request_id})


def _one(http: int, status: str, family: str, code: str, message: str, **extra: Any) -> JSONResponse:
    error: dict[str, Any] = {"errorCode": {family: code}, "message": message, **extra}
    return _failure(http, status, message, [error])


def _unauthenticated(code: str, message: str) -> JSONResponse:
    return _one(401, "UNAUTHENTICATED", "authenticationError", code, message)


def _page_token(query: str, offset: int) -> str:
    digest = hashlib.sha256(query.encode()).hexdigest()[:16]
    return base64.urlsafe_b64encode(f"{digest}:{offset}".encode()).decode()


def _offset(query: str, token: str) -> int | None:
    try:
        digest, offset = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        return int(offset) if digest == hashlib.sha256(query.encode()).hexdigest()[:16] else None
    except (ValueError, UnicodeDecodeError):
        return None


def _results(account: Account, resource: str, since: date, until: date) -> list[dict[str, Any]]:
    cid = account.customer_id
    customer = {"resourceName": f"customers/{cid}", "currencyCode": account.currency}
    out: list[dict[str, Any]] = []
    inside = [r for r in account.rows if since <= r.day <= until and r.cost_micros > 0]
    if resource == "ad_group":
        for r in sorted(inside, key=lambda r: (r.day, r.campaign_id, r.ad_group_id or "")):
            if r.ad_group_id is None:
                continue
            out.append(
                {
                    "customer": customer,
                    "campaign": {
                        "resourceName": f"customers/{cid}/campaigns/{r.campaign_id}",
                        "id": r.campaign_id,
                        "name": r.campaign_name,
                    },
                    "adGroup": {
                        "resourceName": f"customers/{cid}/adGroups/{r.ad_group_id}",
                        "id": r.ad_group_id,
                        "name": r.ad_group_name or "",
                    },
                    "metrics": {"costMicros": str(r.cost_micros)},
                    "segments": {"date": r.day.isoformat()},
                }
            )
        return out
    totals: dict[tuple[date, str], int] = defaultdict(int)
    names: dict[str, str] = {}
    for r in inside:
        totals[(r.day, r.campaign_id)] += r.cost_micros
        names[r.campaign_id] = r.campaign_name
    for (day, campaign_id), micros in sorted(totals.items()):
        out.append(
            {
                "customer": customer,
                "campaign": {
                    "resourceName": f"customers/{cid}/campaigns/{campaign_id}",
                    "id": campaign_id,
                    "name": names[campaign_id],
                },
                "metrics": {"costMicros": str(micros)},
                "segments": {"date": day.isoformat()},
            }
        )
    return out


def _field_mask(fields: list[str]) -> str:
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(p.title() for p in rest)

    return ",".join(".".join(camel(part) for part in f.split(".")) for f in fields)


def create_google_ads_app(state: GoogleAdsState | None = None) -> FastAPI:
    app = FastAPI(title="poas Google Ads sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.google_ads = state = state or GoogleAdsState()

    @app.post("/token")
    async def token(request: Request) -> JSONResponse:
        form = await request.form()
        if form.get("grant_type") != "refresh_token":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if form.get("client_id") != state.client_id or form.get("client_secret") != state.client_secret:
            return JSONResponse(
                {"error": "invalid_client", "error_description": "The OAuth client was not found."},
                status_code=401,
            )
        if form.get("refresh_token") not in state.refresh_tokens:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
                status_code=400,
            )
        access = f"ya29.sandbox-{next(state._n)}"
        with state.lock:
            state.tokens.add(access)
        return JSONResponse(
            {
                "access_token": access,
                "expires_in": state.token_lifetime_s,
                "scope": "https://www.googleapis.com/auth/adwords",
                "token_type": "Bearer",
            }
        )

    @app.post("/{version}/customers/{customer_id}/googleAds:search")
    async def search(version: str, customer_id: str, request: Request) -> JSONResponse:
        headers = request.headers
        call = {
            "version": version,
            "customer_id": customer_id,
            "login_customer_id": headers.get("login-customer-id"),
            "developer_token": bool(headers.get("developer-token")),
        }
        try:
            body = await request.json()
        except ValueError:
            body = None
        call["page_token"] = body.get("pageToken") if isinstance(body, dict) else None
        with state.lock:
            state.calls.append(call)
        fault = state.take_fault()
        if fault is not None and fault.kind == "token_expired":
            with state.lock:
                state.tokens.clear()
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in state.tokens:
            return _unauthenticated(
                "OAUTH_TOKEN_INVALID" if auth else "AUTHENTICATION_ERROR",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )
        if fault is not None and fault.kind == "quota":
            return _one(
                429,
                "RESOURCE_EXHAUSTED",
                "quotaError",
                "RESOURCE_TEMPORARILY_EXHAUSTED",
                "Too many requests. Retry in 1 seconds.",
                details={
                    "quotaErrorDetails": {
                        "rateScope": "ACCOUNT",
                        "rateName": "Requests per account",
                        "retryDelay": f"{fault.retry_delay_s}s",
                    }
                },
            )
        if fault is not None and fault.kind == "unavailable":
            return JSONResponse(
                {
                    "error": {
                        "code": 503,
                        "message": "The service is currently unavailable.",
                        "status": "UNAVAILABLE",
                    }
                },
                status_code=503,
            )
        if state.developer_token and headers.get("developer-token") != state.developer_token:
            return _unauthenticated("AUTHENTICATION_ERROR", "The developer token is not valid.")
        if not re.fullmatch(r"\d{10}", customer_id):
            return _one(
                400, "INVALID_ARGUMENT", "requestError", "INVALID_CUSTOMER_ID", "Invalid customer ID."
            )
        account = state.accounts.get(customer_id)
        if account is None:
            return _unauthenticated("CUSTOMER_NOT_FOUND", "No customer found for the provided customer id.")
        login = headers.get("login-customer-id")
        if account.manager_id and login != account.manager_id:
            code = (
                "USER_PERMISSION_DENIED"
                if not login
                else "INVALID_LOGIN_CUSTOMER_ID_SERVING_CUSTOMER_ID_COMBINATION"
            )
            return _one(
                403,
                "PERMISSION_DENIED",
                "authorizationError",
                code,
                "User doesn't have permission to access customer. Note: If you're accessing a client "
                "customer, the manager's customer id must be set in the 'login-customer-id' header.",
            )
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _one(
                400, "INVALID_ARGUMENT", "requestError", "REQUIRED_FIELD_MISSING", "query is required."
            )
        if "pageSize" in body:
            return _one(
                400,
                "INVALID_ARGUMENT",
                "requestError",
                "PAGE_SIZE_NOT_SUPPORTED",
                "Setting the page size is not supported. Search Responses will have fixed page size of "
                "10000 rows.",
            )
        query = str(body["query"])
        m = _QUERY.match(query)
        fields = [f.strip().lower() for f in m.group("fields").split(",")] if m else []
        resource = m.group("resource").lower() if m else ""
        if m is None or resource not in _FIELDS or any(f not in _FIELDS[resource] for f in fields):
            return _one(
                400,
                "INVALID_ARGUMENT",
                "queryError",
                "QUERY_ERROR",
                "The sandbox answers SELECT of campaign / ad group, segments.date, metrics.cost_micros "
                "FROM campaign or ad_group WHERE segments.date BETWEEN 'YYYY-MM-DD' AND 'YYYY-MM-DD'.",
            )
        offset = 0
        if body.get("pageToken"):
            found = _offset(query, str(body["pageToken"]))
            if found is None:
                return _one(
                    400, "INVALID_ARGUMENT", "requestError", "INVALID_PAGE_TOKEN", "Page token is invalid."
                )
            offset = found
        rows = _results(
            account, resource, date.fromisoformat(m.group("since")), date.fromisoformat(m.group("until"))
        )
        page = rows[offset : offset + state.page_size]
        out: dict[str, Any] = {"results": page, "fieldMask": _field_mask(fields)}
        if offset + state.page_size < len(rows):
            out["nextPageToken"] = _page_token(query, offset + state.page_size)
        return JSONResponse(out)

    @app.post("/_sandbox/google-ads/accounts")
    async def accounts(request: Request) -> JSONResponse:
        body = await request.json()
        rows = [
            CostRow(
                day=date.fromisoformat(r["date"]),
                campaign_id=str(r["campaign_id"]),
                campaign_name=str(r.get("campaign_name", "")),
                cost_micros=int(r["cost_micros"]),
                ad_group_id=str(r["ad_group_id"]) if r.get("ad_group_id") else None,
                ad_group_name=r.get("ad_group_name"),
            )
            for r in body.get("rows", [])
        ]
        account = Account(
            str(body["customer_id"]), str(body.get("currency", "NOK")), body.get("manager_id"), rows
        )
        state.add_account(account, replace=bool(body.get("replace", True)))
        if "page_size" in body:
            state.page_size = int(body["page_size"])
        return JSONResponse({"customer_id": account.customer_id, "rows": len(account.rows)})

    @app.post("/_sandbox/google-ads/faults")
    async def faults(request: Request) -> JSONResponse:
        body = await request.json()
        state.add_fault(str(body["kind"]), int(body.get("count", 1)), int(body.get("retry_delay_s", 1)))
        return JSONResponse({"ok": True})

    @app.post("/_sandbox/google-ads/revoke")
    async def revoke() -> JSONResponse:
        state.revoke()
        return JSONResponse({"ok": True})

    @app.get("/_sandbox/google-ads/calls")
    async def calls() -> JSONResponse:
        with state.lock:
            return JSONResponse({"calls": list(state.calls)})

    return app


@dataclass
class RunningGoogleAds:
    url: str
    state: GoogleAdsState


@contextmanager
def run_google_ads_sandbox(
    port: int = 0, *, host: str = "127.0.0.1", state: GoogleAdsState | None = None
) -> Iterator[RunningGoogleAds]:
    """Serve a fresh Google Ads sandbox in a background thread until the block ends."""
    app = create_google_ads_app(state)
    with serve_in_thread(app, host=host, port=port, what="Google Ads sandbox") as served:
        yield RunningGoogleAds(served.url, app.state.google_ads)
