"""Sandbox routes for the Marketing API insights: sync paging, async report runs, usage headers."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from poas.meta.sandbox_objects import read_pixel

router = APIRouter()

_ALWAYS = ("date_start", "date_stop")


@dataclass
class _ReportRun:
    account_id: str
    params: dict[str, str]
    polls_left: int


@dataclass
class InsightsState:
    """Rows per ad account (Meta-shaped dicts), paging and throttle knobs, running report jobs."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    page_size: int = 2
    usage_pct: int = 5  # reported in X-Ad-Account-Usage / X-Business-Use-Case-Usage
    regain_minutes: int = 0
    polls_before_done: int = 2
    runs: dict[int, _ReportRun] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)  # "GET act_1/insights after=…" — for tests


def _state(request: Request) -> InsightsState:
    app_state = request.app.state
    if not hasattr(app_state, "sandbox_insights"):
        app_state.sandbox_insights = InsightsState()
    state: InsightsState = app_state.sandbox_insights
    return state


def _error(message: str, code: int, status: int = 400, subcode: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        body["error_subcode"] = subcode
    body["fbtrace_id"] = "sandbox"
    return JSONResponse({"error": body}, status_code=status)


def _usage_headers(state: InsightsState, account_id: str) -> dict[str, str]:
    buc = {
        account_id: [
            {
                "type": "ads_insights",
                "call_count": state.usage_pct,
                "total_cputime": state.usage_pct,
                "total_time": state.usage_pct,
                "estimated_time_to_regain_access": state.regain_minutes,
                "ads_api_access_tier": "standard_access",
            }
        ]
    }
    acc = {
        "acc_id_util_pct": state.usage_pct,
        "reset_time_duration": 0,
        "ads_api_access_tier": "standard_access",
    }
    return {"X-Business-Use-Case-Usage": json.dumps(buc), "X-Ad-Account-Usage": json.dumps(acc)}


@router.post("/_sandbox/insights")
async def load_insights(request: Request) -> dict[str, Any]:
    """Load rows: `{"account_id", "rows": [...], "replace"?, "page_size"?, "usage_pct"?, …}`."""
    body = await request.json()
    state = _state(request)
    account = str(body.get("account_id", "")).removeprefix("act_")
    rows = list(body.get("rows", []))
    if body.get("replace", True) or account not in state.rows:
        state.rows[account] = []
    state.rows[account].extend(rows)
    for knob in ("page_size", "usage_pct", "regain_minutes", "polls_before_done"):
        if knob in body:
            setattr(state, knob, int(body[knob]))
    return {"account_id": account, "rows": len(state.rows[account])}


@router.get("/_sandbox/insights")
async def insights_calls(request: Request) -> dict[str, Any]:
    state = _state(request)
    return {"calls": state.calls, "accounts": {k: len(v) for k, v in state.rows.items()}}


def _select(state: InsightsState, account: str, params: dict[str, str]) -> list[dict[str, Any]]:
    rows = state.rows.get(account, [])
    time_range = params.get("time_range")
    if time_range:
        rng = json.loads(time_range)
        since, until = rng.get("since", ""), rng.get("until", "9999-12-31")
        rows = [r for r in rows if since <= r.get("date_start", "") <= until]
    rows = sorted(rows, key=lambda r: (r.get("date_start", ""), r.get("ad_id", "")))
    wanted = [f for f in params.get("fields", "").split(",") if f]
    if not wanted:
        return rows
    return [{k: v for k, v in r.items() if k in wanted or k in _ALWAYS} for r in rows]


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"idx:{index}".encode()).decode()


def _uncursor(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("idx:"))
    except ValueError:
        return -1


def _page(
    request: Request, state: InsightsState, rows: list[dict[str, Any]], params: dict[str, str]
) -> dict[str, Any]:
    limit = min(int(params.get("limit", state.page_size)), state.page_size)
    start = _uncursor(params["after"]) + 1 if params.get("after") else 0
    chunk = rows[start : start + limit]
    body: dict[str, Any] = {"data": chunk}
    if chunk:
        end = start + len(chunk) - 1
        paging: dict[str, Any] = {"cursors": {"before": _cursor(start), "after": _cursor(end)}}
        if end + 1 < len(rows):
            nxt = dict(params, after=_cursor(end))
            paging["next"] = str(request.url.replace_query_params(**nxt))
        body["paging"] = paging
    return body


def _auth(params: dict[str, str]) -> JSONResponse | None:
    if not params.get("access_token"):
        return _error("An access token is required to request this resource.", 104)
    if params["access_token"] == "expired":
        return _error("Error validating access token: Session has expired.", 190, subcode=463)
    return None


@router.get("/{version}/act_{account_id}/insights")
async def get_insights(request: Request, version: str, account_id: str) -> JSONResponse:
    state = _state(request)
    params = dict(request.query_params)
    state.calls.append(f"GET act_{account_id}/insights after={params.get('after', '')}")
    if (err := _auth(params)) is not None:
        return err
    if state.regain_minutes > 0 and state.usage_pct >= 100:
        resp = _error("User request limit reached", 17, subcode=2446079)
        resp.headers.update(_usage_headers(state, account_id))
        return resp
    body = _page(request, state, _select(state, account_id, params), params)
    return JSONResponse(body, headers=_usage_headers(state, account_id))


@router.post("/{version}/act_{account_id}/insights")
async def start_report_run(request: Request, version: str, account_id: str) -> JSONResponse:
    state = _state(request)
    params = dict(request.query_params)
    form = await request.form()
    params.update({k: str(v) for k, v in form.items()})
    state.calls.append(f"POST act_{account_id}/insights")
    if (err := _auth(params)) is not None:
        return err
    run_id = 6_000_000_000_000 + len(state.runs) + 1
    params.pop("access_token", None)
    state.runs[run_id] = _ReportRun(account_id, params, state.polls_before_done)
    return JSONResponse({"report_run_id": str(run_id)}, headers=_usage_headers(state, account_id))


@router.get("/{version}/{run_id:int}")
async def report_run_status(request: Request, version: str, run_id: int) -> JSONResponse:
    state = _state(request)
    params = dict(request.query_params)
    if (err := _auth(params)) is not None:
        return err
    run = state.runs.get(run_id)
    if run is None:  # a dataset (pixel) id is numeric too
        return read_pixel(request, str(run_id))
    state.calls.append(f"GET {run_id}")
    done = run.polls_left <= 0
    run.polls_left -= 1
    total = max(state.polls_before_done, 1)
    pct = 100 if done else int(100 * (total - max(run.polls_left + 1, 0)) / total)
    return JSONResponse(
        {
            "id": str(run_id),
            "account_id": run.account_id,
            "async_status": "Job Completed" if done else "Job Running",
            "async_percent_completion": pct,
        }
    )


@router.get("/{version}/{run_id:int}/insights")
async def report_run_insights(request: Request, version: str, run_id: int) -> JSONResponse:
    state = _state(request)
    params = dict(request.query_params)
    if (err := _auth(params)) is not None:
        return err
    run = state.runs.get(run_id)
    if run is None or run.polls_left >= 0:
        return _error("Report run is not complete", 100, 400, 2601)
    state.calls.append(f"GET {run_id}/insights after={params.get('after', '')}")
    merged = dict(run.params, **{k: v for k, v in params.items() if k in ("after", "limit", "access_token")})
    rows = _select(state, run.account_id, merged)
    return JSONResponse(_page(request, state, rows, merged), headers=_usage_headers(state, run.account_id))
