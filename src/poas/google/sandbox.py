"""The Google sandbox: a local Data Manager API (events:ingest) and OAuth token endpoint that
authenticates, validates (`poas.google.sandbox_checks`), records conversions and restatements, and
fails on request.

Routes: `POST /token` (grant_type=refresh_token), `POST /v1/events:ingest`; control: `GET
/_sandbox/events` (every accepted event, in order, marked `conversion` or `restatement`), `GET
/_sandbox/conversions` (one row per destination and transaction id: the current value, how many
times it was restated), `POST /_sandbox/objects` (accounts, conversion actions, OAuth clients, refresh
tokens, the accounts allowlisted for adjustments), `POST /_sandbox/faults`, `DELETE /_sandbox/faults`,
`POST /_sandbox/revoke` (invalidate issued access tokens). Beside it, the Google Ads API's
`POST /{version}/customers/{customer}:uploadConversionAdjustments` (developer token required; only
allowlisted accounts; RESTATEMENT / RETRACTION of a recorded conversion by its order id = transactionId,
per-adjustment errors in `partialFailureError`). A second event with the same transaction id for the
same conversion action restates the first: it is never a second conversion. Everything lives in memory
behind one lock."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from poas.google.sandbox_checks import check_request
from poas.local_server import serve_in_thread

DEFAULT_CLIENT = ("sandbox-client", "sandbox-secret")
DEFAULT_REFRESH_TOKEN = "sandbox-refresh-token"
DEFAULT_ACCOUNTS = {"1234567890": ["111111111", "222222222"]}

FaultStatus = Literal["UNAVAILABLE", "INTERNAL", "RESOURCE_EXHAUSTED", "UNAUTHENTICATED", "PERMISSION_DENIED"]
_HTTP = {
    "UNAVAILABLE": 503,
    "INTERNAL": 500,
    "RESOURCE_EXHAUSTED": 429,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "INVALID_ARGUMENT": 400,
    "NOT_FOUND": 404,
}


class FaultSpec(BaseModel):
    """Fail the next `count` ingest requests with `status`; `record` keeps their events first (Google
    got them, the answer was lost); `delay_s` holds the answer that long, after recording when `record`
    is set, so a test can kill the sender while Google has the events and the sender has no answer (a
    test fault, not modelled on any documented Google behaviour); `transaction_ids`: reject only
    requests holding one of them as an invalid event (INVALID_ARGUMENT naming its index)."""

    model_config = ConfigDict(extra="forbid")

    status: FaultStatus | Literal["INVALID_ARGUMENT"] = "UNAVAILABLE"
    count: int = Field(1, ge=1)
    record: bool = False
    delay_s: float = Field(0.0, ge=0.0, le=600.0)
    transaction_ids: list[str] = Field(default_factory=list)


class Objects(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accounts: dict[str, list[str]] = Field(default_factory=dict)  # customer id -> conversion action ids
    clients: dict[str, str] = Field(default_factory=dict)  # client id -> client secret
    refresh_tokens: list[str] = Field(default_factory=list)
    adjustment_allowlist: list[str] = Field(default_factory=list)  # customer ids
    replace: bool = False


@dataclass
class _State:
    accounts: dict[str, set[str]] = field(default_factory=dict)
    clients: dict[str, str] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    access_tokens: set[str] = field(default_factory=set)
    allowlist: set[str] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)
    conversions: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    faults: list[FaultSpec] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def rpc_error(status: str, message: str, violations: list[dict[str, str]] | None = None) -> Response:
    code = _HTTP.get(status, 400)
    details: list[dict[str, Any]] = [
        {"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": secrets.token_hex(8)}
    ]
    if violations:
        details.append({"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations})
    body = {"error": {"code": code, "message": message, "status": status, "details": details}}
    return Response(orjson.dumps(body), status_code=code, media_type="application/json")


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def create_google_sandbox_app(*, defaults: bool = True) -> FastAPI:
    """A fresh sandbox; with `defaults`, one OAuth client, refresh token and account with two actions
    (DEFAULT_CLIENT, DEFAULT_REFRESH_TOKEN, DEFAULT_ACCOUNTS)."""
    state = _State()
    if defaults:
        state.clients[DEFAULT_CLIENT[0]] = DEFAULT_CLIENT[1]
        state.refresh_tokens.add(DEFAULT_REFRESH_TOKEN)
        state.accounts = {k: set(v) for k, v in DEFAULT_ACCOUNTS.items()}
        state.allowlist = set(DEFAULT_ACCOUNTS)
    app = FastAPI(title="poas Google sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.google = state

    @app.post("/token")
    async def token(request: Request) -> Response:
        form = await request.form()
        client_id, client_secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        with state.lock:
            if state.clients.get(client_id) != client_secret or not client_id:
                return _json(
                    {"error": "invalid_client", "error_description": "The OAuth client was not found."}, 401
                )
            if (
                form.get("grant_type") != "refresh_token"
                or form.get("refresh_token") not in state.refresh_tokens
            ):
                return _json(
                    {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, 400
                )
            access = "ya29.sandbox-" + secrets.token_urlsafe(24)
            state.access_tokens.add(access)
        return _json(
            {
                "access_token": access,
                "expires_in": 3599,
                "token_type": "Bearer",
                "scope": "https://www.googleapis.com/auth/datamanager",
            }
        )

    @app.post("/v1/events:ingest")
    async def ingest(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        with state.lock:
            state.requests += 1
            authed = auth.startswith("Bearer ") and auth[7:] in state.access_tokens
        if not authed:
            return rpc_error("UNAUTHENTICATED", "Request had invalid authentication credentials.")
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return rpc_error("INVALID_ARGUMENT", "Invalid JSON payload received.")
        violations = check_request(body)
        if violations:
            return rpc_error("INVALID_ARGUMENT", "Request contains an invalid argument.", violations)
        dests = [
            (d["operatingAccount"]["accountId"], str(d["productDestinationId"])) for d in body["destinations"]
        ]
        with state.lock:
            for i, (customer, action) in enumerate(dests):
                if customer not in state.accounts:
                    return rpc_error(
                        "PERMISSION_DENIED", f"The caller does not have access to account {customer}."
                    )
                if action not in state.accounts[customer]:
                    return rpc_error(
                        "INVALID_ARGUMENT",
                        "Request contains an invalid argument.",
                        [
                            {
                                "field": f"destinations[{i}].productDestinationId",
                                "reason": "DESTINATION_NOT_FOUND",
                                "description": f"conversion action {action} not found in {customer}",
                            }
                        ],
                    )
            fault = _take_fault(state, body["events"])
        if fault is not None:
            spec, hit = fault
            recorded = spec.record and spec.status != "INVALID_ARGUMENT" and not body.get("validateOnly")
            if recorded:
                _record(state, dests, body["events"])
            if spec.delay_s:
                await asyncio.sleep(spec.delay_s)
            if spec.status == "INVALID_ARGUMENT":
                return rpc_error(
                    "INVALID_ARGUMENT",
                    "Request contains an invalid argument.",
                    [
                        {
                            "field": f"events[{hit}].transactionId",
                            "reason": "INVALID_ARGUMENT",
                            "description": "rejected by an injected fault",
                        }
                    ],
                )
            return rpc_error(spec.status, f"injected fault {spec.status}")
        if body.get("validateOnly"):
            return _json({})
        request_id = _record(state, dests, body["events"])
        return _json({"requestId": request_id})

    @app.post("/{version}/customers/{customer}:uploadConversionAdjustments")
    async def adjust(version: str, customer: str, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        with state.lock:
            authed = auth.startswith("Bearer ") and auth[7:] in state.access_tokens
        if not authed:
            return rpc_error("UNAUTHENTICATED", "Request is missing required authentication credential.")
        if not request.headers.get("developer-token"):
            return rpc_error(
                "UNAUTHENTICATED", "DEVELOPER_TOKEN_PARAMETER_MISSING: a developer token is required."
            )
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return rpc_error("INVALID_ARGUMENT", "Invalid JSON payload received.")
        with state.lock:
            if customer not in state.accounts:
                return rpc_error(
                    "PERMISSION_DENIED", f"The caller does not have permission to access customer {customer}."
                )
            if customer not in state.allowlist:
                return rpc_error("PERMISSION_DENIED", "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE")
        if body.get("partialFailure") is not True:
            return rpc_error("INVALID_ARGUMENT", "partial_failure must be true for this method.")
        adjustments = body.get("conversionAdjustments")
        if not isinstance(adjustments, list) or not adjustments:
            return rpc_error("INVALID_ARGUMENT", "conversion_adjustments is required.")
        errors: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        with state.lock:
            for i, adj in enumerate(adjustments):
                code = _adjust(state, customer, adj, record=not body.get("validateOnly"))
                if code:
                    errors.append(
                        {
                            "errorCode": {"conversionAdjustmentUploadError": code},
                            "message": code.replace("_", " ").lower(),
                            "location": {
                                "fieldPathElements": [{"fieldName": "conversion_adjustments", "index": i}]
                            },
                        }
                    )
                    results.append({})
                else:
                    results.append({"conversionAction": adj["conversionAction"], "orderId": adj["orderId"]})
        answer: dict[str, Any] = {"results": results, "jobId": str(secrets.randbelow(2**31))}
        if errors:
            answer["partialFailureError"] = {
                "code": 3,
                "message": f"{len(errors)} adjustment(s) failed",
                "details": [
                    {
                        "@type": f"type.googleapis.com/google.ads.googleads.{version}"
                        ".errors.GoogleAdsFailure",
                        "errors": errors,
                    }
                ],
            }
        return _json(answer)

    @app.get("/_sandbox/events")
    async def events(destination: str | None = None, transaction_id: str | None = None) -> Response:
        with state.lock:
            rows = [
                e
                for e in state.events
                if (destination is None or e["destination"] == destination)
                and (transaction_id is None or e["transaction_id"] == transaction_id)
            ]
        return _json({"data": rows, "count": len(rows)})

    @app.get("/_sandbox/conversions")
    async def conversions() -> Response:
        with state.lock:
            rows = list(state.conversions.values())
        return _json({"data": rows, "count": len(rows)})

    @app.post("/_sandbox/objects")
    async def objects(spec: Objects) -> Response:
        with state.lock:
            if spec.replace:
                state.accounts, state.clients, state.refresh_tokens, state.allowlist = {}, {}, set(), set()
            state.allowlist.update(spec.adjustment_allowlist)
            for customer, actions in spec.accounts.items():
                state.accounts.setdefault(customer, set()).update(actions)
            state.clients.update(spec.clients)
            state.refresh_tokens.update(spec.refresh_tokens)
        return _json({"ok": True})

    @app.post("/_sandbox/faults")
    async def add_fault(spec: FaultSpec) -> Response:
        with state.lock:
            state.faults.append(spec)
        return _json({"ok": True, "faults": len(state.faults)})

    @app.delete("/_sandbox/faults")
    async def clear_faults() -> Response:
        with state.lock:
            state.faults.clear()
        return _json({"ok": True})

    @app.post("/_sandbox/revoke")
    async def revoke(request: Request) -> Response:
        """Invalidate issued access tokens; with {"refresh_tokens": true} also the refresh tokens."""
        body = orjson.loads(await request.body() or b"{}")
        with state.lock:
            state.access_tokens.clear()
            if body.get("refresh_tokens"):
                state.refresh_tokens.clear()
        return _json({"ok": True})

    return app


def _adjust(state: _State, customer: str, adj: Any, *, record: bool) -> str | None:
    """Apply one ConversionAdjustment (caller holds the lock); the error code, or None when done."""
    if not isinstance(adj, dict):
        return "INVALID_ADJUSTMENT"
    action = str(adj.get("conversionAction") or "")
    prefix = f"customers/{customer}/conversionActions/"
    if not action.startswith(prefix) or action[len(prefix) :] not in state.accounts.get(customer, set()):
        return "INVALID_CONVERSION_ACTION"
    kind = adj.get("adjustmentType")
    if kind not in ("RESTATEMENT", "RETRACTION") or not adj.get("adjustmentDateTime"):
        return "INVALID_ADJUSTMENT"
    known = state.conversions.get((customer, action[len(prefix) :], str(adj.get("orderId") or "")))
    if known is None:
        return "CONVERSION_NOT_FOUND"
    if known.get("retracted"):
        return "CONVERSION_ALREADY_RETRACTED"
    value = None
    if kind == "RESTATEMENT":
        restated = adj.get("restatementValue") or {}
        value = restated.get("adjustedValue")
        if not isinstance(value, int | float) or value < 0 or not restated.get("currencyCode"):
            return "RESTATEMENT_VALUE_INVALID"
    if not record:
        return None
    if kind == "RETRACTION":
        known["retracted"], known["value"] = True, 0
    else:
        known["value"] = value
        known["restatements"] += 1
    state.events.append(
        {
            "seq": len(state.events) + 1,
            "destination": known["destination"],
            "transaction_id": known["transaction_id"],
            "kind": "retraction" if kind == "RETRACTION" else "restatement",
            "request_id": None,
            "event": adj,
        }
    )
    return None


def _take_fault(state: _State, events: list[dict[str, Any]]) -> tuple[FaultSpec, int] | None:
    for spec in state.faults:
        hit = 0
        if spec.transaction_ids:
            found = [i for i, e in enumerate(events) if e.get("transactionId") in spec.transaction_ids]
            if not found:
                continue
            hit = found[0]
        else:
            spec.count -= 1
            if spec.count <= 0:
                state.faults.remove(spec)
        return spec, hit
    return None


def _record(state: _State, dests: list[tuple[str, str]], events: list[dict[str, Any]]) -> str:
    request_id = secrets.token_hex(8)
    with state.lock:
        for customer, action in dests:
            destination = f"gads:{customer}:{action}"
            for event in events:
                key = (customer, action, str(event["transactionId"]))
                known = state.conversions.get(key)
                kind = "restatement" if known else "conversion"
                state.events.append(
                    {
                        "seq": len(state.events) + 1,
                        "destination": destination,
                        "transaction_id": key[2],
                        "kind": kind,
                        "request_id": request_id,
                        "event": event,
                    }
                )
                if known is None:
                    state.conversions[key] = {
                        "destination": destination,
                        "transaction_id": key[2],
                        "value": event.get("conversionValue"),
                        "currency": event.get("currency"),
                        "first_value": event.get("conversionValue"),
                        "restatements": 0,
                    }
                else:
                    known["value"] = event.get("conversionValue")
                    known["restatements"] += 1
    return request_id


@dataclass(frozen=True)
class RunningGoogleSandbox:
    url: str
    app: FastAPI


@contextmanager
def run_google_sandbox(
    port: int = 0, *, host: str = "127.0.0.1", defaults: bool = True
) -> Iterator[RunningGoogleSandbox]:
    """Serve a fresh Google sandbox in a background thread until the block ends."""
    app = create_google_sandbox_app(defaults=defaults)
    with serve_in_thread(app, host=host, port=port, what="Google sandbox") as served:
        yield RunningGoogleSandbox(served.url, app)
