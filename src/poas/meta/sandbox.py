"""The Meta sandbox: a local Graph API that validates, records and (on request) fails CAPI calls.

`create_sandbox_app()` is the ASGI app; `run_sandbox()` serves it over real HTTP on a free port in a
thread (tests, benchmarks); `poas sandbox` serves it in the foreground. Everything lives in memory,
guarded by one lock. The routes and response shapes follow docs/contracts.md.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import hmac
import importlib
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import unquote_plus

import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import ClientDisconnect

from poas.domain.capi_validation import APPEND_VALUE, Problem, validate_batch
from poas.local_server import serve_in_thread

FaultKind = Literal["5xx", "timeout", "throttle", "token_expired", "invalid_event"]

THROTTLE_MESSAGES: dict[int, tuple[str, int | None]] = {
    4: ("(#4) Application request limit reached", None),
    17: ("(#17) User request limit reached", 2446079),
    613: ("(#613) Calls to this api have exceeded the rate limit.", 1487742),
}


class FaultSpec(BaseModel):
    """A fault to inject: applies to matching requests by probability until `count` runs out."""

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    pixel_id: str | None = None
    probability: float = Field(1.0, ge=0.0, le=1.0)
    count: int | None = Field(None, ge=1)  # requests it fires on; None = until removed
    code: int | None = None  # 5xx: HTTP status (500/503/504); throttle: 4/17/613
    event_ids: list[str] = Field(default_factory=list)  # invalid_event: rejected event ids
    delay_s: float = Field(3.0, ge=0.0, le=600.0)  # timeout: sleep before answering 504
    record: bool = False  # timeout: keep the events, as when Meta got them but the answer was lost


@dataclass
class Fault:
    id: int
    spec: FaultSpec
    remaining: int | None
    event_ids: frozenset[str]


@dataclass
class _Reply:
    status: int
    body: dict[str, Any]
    delay_s: float = 0.0


def _now_s() -> int:
    return int(time.time())


def graph_error(
    message: str,
    code: int,
    *,
    subcode: int | None = None,
    kind: str = "OAuthException",
    transient: bool = False,
    user_title: str | None = None,
    user_msg: str | None = None,
    blame: str | None = None,
) -> dict[str, Any]:
    """A Graph API error envelope."""
    err: dict[str, Any] = {
        "message": message,
        "type": kind,
        "code": code,
        "error_subcode": subcode,
        "is_transient": transient,
        "fbtrace_id": _trace_id(),
    }
    if user_title:
        err["error_user_title"] = user_title
    if user_msg:
        err["error_user_msg"] = user_msg
    if blame:
        err["error_data"] = {"blame_field_specs": [[blame]]}
    return {"error": err}


def _trace_id() -> str:
    return "sb" + secrets.token_urlsafe(9)


def problem_error(problem: Problem) -> dict[str, Any]:
    """Meta's code-100 answer for an invalid event, naming the event index and the field."""
    return graph_error(
        f"(#100) Invalid parameter: {problem}",
        100,
        subcode=problem.subcode,
        user_title="Invalid event" if problem.index is not None else "Invalid request",
        user_msg=str(problem),
        blame=problem.path,
    )


@dataclass
class SandboxState:
    """Everything the sandbox remembers; every method takes the lock."""

    app_secret: str | None = None
    now_s: Callable[[], int] = _now_s
    lock: threading.Lock = field(default_factory=threading.Lock)
    records: list[dict[str, Any]] = field(default_factory=list)
    keys: set[tuple[str, str, str]] = field(default_factory=set)
    orders: set[tuple[str, str]] = field(default_factory=set)
    faults: list[Fault] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    injected: dict[str, int] = field(default_factory=dict)
    by_pixel: dict[str, dict[str, int]] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)
    _fault_seq: int = 0

    def reset(self) -> None:
        with self.lock:
            self.records.clear()
            self.keys.clear()
            self.orders.clear()
            self.faults.clear()
            self.counters.clear()
            self.injected.clear()
            self.by_pixel.clear()

    def _count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def add_fault(self, spec: FaultSpec) -> Fault:
        with self.lock:
            self._fault_seq += 1
            fault = Fault(self._fault_seq, spec, spec.count, frozenset(spec.event_ids))
            self.faults.append(fault)
            return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def _take_fault(self, pixel_id: str, kinds: tuple[str, ...], event_ids: set[str]) -> Fault | None:
        """The first matching fault that fires for this request (its count is used up)."""
        for fault in self.faults:
            spec = fault.spec
            if spec.kind not in kinds or (spec.pixel_id is not None and spec.pixel_id != pixel_id):
                continue
            if spec.kind == "invalid_event" and not (fault.event_ids & event_ids):
                continue
            if spec.probability < 1.0 and self.rng.random() >= spec.probability:
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
            self.injected[spec.kind] = self.injected.get(spec.kind, 0) + 1
            return fault
        return None

    def events(self, pixel_id: str | None = None, event_name: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                r
                for r in self.records
                if (pixel_id is None or r["pixel_id"] == pixel_id)
                and (event_name is None or r["event"].get("event_name") == event_name)
            ]

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.counters.get("requests", 0),
                "accepted_requests": self.counters.get("accepted_requests", 0),
                "rejected_requests": self.counters.get("rejected_requests", 0),
                "events_received": self.counters.get("events_received", 0),
                "events_unique": self.counters.get("events_received", 0) - self.counters.get("duplicates", 0),
                "duplicates": self.counters.get("duplicates", 0),
                "faults_injected": dict(self.injected),
                "active_faults": [
                    {"id": f.id, "remaining": f.remaining, **f.spec.model_dump()} for f in self.faults
                ],
                "by_pixel": {k: dict(v) for k, v in self.by_pixel.items()},
            }

    def handle(self, pixel_id: str, params: dict[str, Any]) -> _Reply:
        """Answer one `POST /{version}/{pixel_id}/events` the way Meta would."""
        with self.lock:
            self._count("requests")
            reply = self._handle_locked(pixel_id, params)
            self._count("accepted_requests" if reply.status == 200 else "rejected_requests")
            return reply

    def _handle_locked(self, pixel_id: str, params: dict[str, Any]) -> _Reply:
        fault = self._take_fault(pixel_id, ("5xx", "timeout", "throttle", "token_expired"), set())
        if fault is None:
            return self._process(pixel_id, params)
        if fault.spec.kind == "timeout" and fault.spec.record:
            self._process(pixel_id, params)  # Meta got the events; only the answer is lost
        return self._fault_reply(fault)

    def _process(self, pixel_id: str, params: dict[str, Any]) -> _Reply:
        auth = self._check_auth(params)
        if auth is not None:
            return auth
        data = params.get("data")
        if isinstance(data, str | bytes):
            try:
                data = orjson.loads(data)
            except orjson.JSONDecodeError:
                return _Reply(400, problem_error(Problem(None, "data", "is not valid JSON")))
        if data is None:
            return _Reply(400, problem_error(Problem(None, "data", "is required")))
        if isinstance(data, list):  # the sync SDK sends each event as its own JSON string
            data = [orjson.loads(e) if isinstance(e, str) else e for e in data]
        problems = validate_batch(data, self.now_s())
        if problems:
            return _Reply(400, problem_error(problems[0]))
        assert isinstance(data, list)
        ids = {str(e["event_id"]) for e in data if e.get("event_id") is not None}
        bad = self._take_fault(pixel_id, ("invalid_event",), ids)
        if bad is not None:
            n = next(i for i, e in enumerate(data) if str(e.get("event_id")) in bad.event_ids)
            return _Reply(400, problem_error(Problem(n, f"data[{n}]", "rejected by an injected fault")))
        missing = self._unknown_original(pixel_id, data)
        if missing is not None:
            return _Reply(400, problem_error(missing))
        return self._accept(pixel_id, data, params.get("test_event_code"))

    def check_auth(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """The token / appsecret_proof check every Graph route makes: None, or (status, error body)."""
        reply = self._check_auth(params)
        return None if reply is None else (reply.status, reply.body)

    def _check_auth(self, params: dict[str, Any]) -> _Reply | None:
        token = params.get("access_token")
        if not token or not isinstance(token, str):
            return _Reply(400, graph_error("An access token is required to request this resource.", 190))
        if token.startswith("expired"):
            return _Reply(400, graph_error(_EXPIRED, 190, subcode=463))
        if self.app_secret is not None:
            proof = params.get("appsecret_proof")
            if not proof:
                msg = "API calls from the server require an appsecret_proof argument"
                return _Reply(400, graph_error(msg, 100, kind="GraphMethodException"))
            expected = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(str(proof), expected):
                msg = "Invalid appsecret_proof provided in the API argument"
                return _Reply(400, graph_error(msg, 100, kind="GraphMethodException"))
        return None

    def _fault_reply(self, fault: Fault) -> _Reply:
        spec = fault.spec
        if spec.kind == "5xx":
            status = spec.code or 500
            if status == 503:
                body = graph_error("(#2) Service temporarily unavailable", 2, transient=True)
            else:
                body = graph_error(
                    "An unexpected error has occurred. Please retry your request later.", 1, transient=True
                )
            return _Reply(status, body)
        if spec.kind == "timeout":
            return _Reply(
                504, graph_error("(#2) Service temporarily unavailable", 2, transient=True), spec.delay_s
            )
        if spec.kind == "throttle":
            code = spec.code if spec.code in THROTTLE_MESSAGES else 17
            message, subcode = THROTTLE_MESSAGES[code]
            return _Reply(400, graph_error(message, code, subcode=subcode, transient=True))
        return _Reply(400, graph_error(_EXPIRED, 190, subcode=463))

    def _unknown_original(self, pixel_id: str, data: list[Any]) -> Problem | None:
        """An AppendValue whose original event this pixel never accepted (earlier in the batch counts)."""
        keys: set[tuple[str, str, str]] = set()
        orders: set[tuple[str, str]] = set()
        for n, e in enumerate(data):
            name = e["event_name"]
            if name == APPEND_VALUE:
                oed = e["original_event_data"]
                oid, eid = oed.get("order_id"), oed.get("event_id")
                key = (pixel_id, str(oed["event_name"]), str(eid))
                found = (eid is not None and (key in self.keys or key in keys)) or (
                    oid is not None
                    and ((pixel_id, str(oid)) in self.orders or (pixel_id, str(oid)) in orders)
                )
                if not found:
                    return Problem(
                        n, f"data[{n}].original_event_data", "no original event with this event_id/order_id"
                    )
                continue
            if e.get("event_id") is not None:
                keys.add((pixel_id, name, str(e["event_id"])))
            cd = e.get("custom_data")
            if isinstance(cd, dict) and cd.get("order_id") is not None:
                orders.add((pixel_id, str(cd["order_id"])))
        return None

    def _accept(self, pixel_id: str, data: list[Any], test_code: object) -> _Reply:
        received_at = datetime.fromtimestamp(self.now_s(), UTC).isoformat()
        dups = 0
        for e in data:
            name = e.get("event_name")
            eid = e.get("event_id")
            duplicate = False
            if eid is not None:
                key = (pixel_id, name, str(eid))
                duplicate = key in self.keys
                self.keys.add(key)
            if name != APPEND_VALUE:
                cd = e.get("custom_data")
                if isinstance(cd, dict) and cd.get("order_id") is not None:
                    self.orders.add((pixel_id, str(cd["order_id"])))
            dups += duplicate
            self.records.append(
                {
                    "seq": len(self.records) + 1,
                    "pixel_id": pixel_id,
                    "received_at": received_at,
                    "duplicate": duplicate,
                    "test_event_code": test_code,
                    "event": e,
                }
            )
        self._count("events_received", len(data))
        self._count("duplicates", dups)
        px = self.by_pixel.setdefault(pixel_id, {"events_received": 0, "duplicates": 0})
        px["events_received"] += len(data)
        px["duplicates"] += dups
        return _Reply(200, {"events_received": len(data), "messages": [], "fbtrace_id": _trace_id()})


_EXPIRED = "Error validating access token: Session has expired."


async def _params(request: Request) -> dict[str, Any]:
    """Query string plus a form, multipart or JSON body, as one dict."""
    params: dict[str, Any] = dict(request.query_params)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/"):
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params
    body = await request.body()
    if not body:
        return params
    if ctype.startswith("application/json"):
        parsed = orjson.loads(body)
        if isinstance(parsed, dict):
            params.update(parsed)
    else:
        params.update(parse_form(body))
    return params


_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})|=").search


def _unquote(raw: bytes) -> str:
    if _BAD_ESCAPE(raw):
        return unquote_plus(raw.decode())
    # quoted-printable uses =XX where a form uses %XX: binascii decodes megabytes at C speed
    return binascii.a2b_qp(raw.replace(b"%", b"=").replace(b"+", b" ")).decode()


def parse_form(body: bytes) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (same result as `parse_qsl`, much faster)."""
    out: dict[str, str] = {}
    for part in body.split(b"&"):
        if part:
            key, _, value = part.partition(b"=")
            out[_unquote(key)] = _unquote(value)
    return out


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def create_sandbox_app(
    *,
    app_secret: str | None = None,
    now_s: Callable[[], int] | None = None,
    state: SandboxState | None = None,
) -> FastAPI:
    """The sandbox's ASGI app; its state is `app.state.sandbox`."""
    sb = state or SandboxState(app_secret=app_secret, now_s=now_s or _now_s)
    app = FastAPI(title="poas Meta sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sandbox = sb

    @app.post("/{version}/{pixel_id}/events")
    async def events(version: str, pixel_id: str, request: Request) -> Response:
        try:
            params = await _params(request)
        except (orjson.JSONDecodeError, UnicodeDecodeError, binascii.Error):
            return _json(problem_error(Problem(None, "body", "is not valid JSON or form data")), 400)
        except ClientDisconnect:  # the sender died mid-body: like Meta, nothing is received
            return Response(status_code=400)
        reply = sb.handle(pixel_id, params)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        return _json(reply.body, reply.status)

    @app.get("/_sandbox/events")
    async def list_events(pixel_id: str | None = None, event_name: str | None = None) -> Response:
        data = sb.events(pixel_id, event_name)
        return _json({"data": data, "count": len(data)})

    @app.post("/_sandbox/faults")
    async def add_fault(spec: FaultSpec) -> Response:
        fault = sb.add_fault(spec)
        return _json({"id": fault.id, **spec.model_dump()})

    @app.delete("/_sandbox/faults")
    async def clear_faults() -> Response:
        sb.clear_faults()
        return _json({"ok": True})

    @app.post("/_sandbox/reset")
    async def reset() -> Response:
        sb.reset()
        return _json({"ok": True})

    @app.get("/_sandbox/stats")
    async def stats() -> Response:
        return _json(sb.stats())

    _mount_insights(app)
    return app


def _mount_insights(app: FastAPI) -> None:
    """Serve insights when the spend area's router exists (it is built separately)."""
    try:
        module = importlib.import_module("poas.meta.sandbox_insights")
    except ModuleNotFoundError as exc:
        if exc.name != "poas.meta.sandbox_insights":
            raise
        return
    app.include_router(module.router)
    # After the insights routes: its numeric report-run route hands unknown ids to the pixel reader.
    app.include_router(importlib.import_module("poas.meta.sandbox_objects").router)


@dataclass
class RunningSandbox:
    """A sandbox served over HTTP: `.url` is its base URL (no trailing slash)."""

    url: str
    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def state(self) -> SandboxState:
        state: SandboxState = self.app.state.sandbox
        return state

    def events(self, pixel_id: str | None = None, event_name: str | None = None) -> list[dict[str, Any]]:
        return self.state.events(pixel_id, event_name)

    def add_fault(self, **spec: Any) -> Fault:
        return self.state.add_fault(FaultSpec(**spec))


@contextmanager
def run_sandbox(
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    app_secret: str | None = None,
    now_s: Callable[[], int] | None = None,
) -> Iterator[RunningSandbox]:
    """Serve a fresh sandbox in a background thread until the block ends."""
    app = create_sandbox_app(app_secret=app_secret, now_s=now_s)
    with serve_in_thread(app, host=host, port=port, what="Meta sandbox") as served:
        yield RunningSandbox(served.url, app, served.server, served.thread)
