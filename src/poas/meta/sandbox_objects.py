"""Sandbox routes that read a dataset (pixel) and an ad account, as `poas connect meta` does.

`GET /{version}/{pixel-id}?fields=…` and `GET /{version}/act_{id}?fields=…` answer with the requested
fields (plus `id`) of the objects loaded through `POST /_sandbox/objects`; like Meta, an object the
token cannot see is code 100 subcode 33, and an ad account read by a token without ads_read or
ads_management is the (#200) permission error. A token listed in `token_permissions` has only those
permissions; any other non-empty token has them all. Tokens starting with "expired" get code 190.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter()

ADS_PERMISSIONS = frozenset({"ads_read", "ads_management"})
_PIXEL_DEFAULT = ("id", "name")
_ACCOUNT_DEFAULT = ("id", "account_id")


@dataclass
class ObjectsState:
    pixels: dict[str, dict[str, Any]] = field(default_factory=dict)
    ad_accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # key: digits, no act_
    token_permissions: dict[str, set[str]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)  # "GET act_1 fields=…" — for tests


def _state(request: Request) -> ObjectsState:
    app_state = request.app.state
    if not hasattr(app_state, "sandbox_objects"):
        app_state.sandbox_objects = ObjectsState()
    state: ObjectsState = app_state.sandbox_objects
    return state


def _error(
    message: str, code: int, *, subcode: int | None = None, kind: str = "OAuthException"
) -> JSONResponse:
    body: dict[str, Any] = {"message": message, "type": kind, "code": code, "fbtrace_id": "sandbox"}
    if subcode is not None:
        body["error_subcode"] = subcode
    return JSONResponse({"error": body}, status_code=400)


def _not_found(object_id: str) -> JSONResponse:
    return _error(
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation. Please read the Graph API "
        "documentation at https://developers.facebook.com/docs/graph-api",
        100,
        subcode=33,
        kind="GraphMethodException",
    )


def _auth(request: Request, params: dict[str, str]) -> JSONResponse | None:
    """The Meta sandbox's own token and appsecret_proof checks (one place for every route)."""
    sandbox = getattr(request.app.state, "sandbox", None)
    if sandbox is not None:
        refused = sandbox.check_auth(params)
        if refused is not None:
            status, body = refused
            return JSONResponse(body, status_code=status)
    elif not params.get("access_token"):
        return _error("An access token is required to request this resource.", 104)
    return None


def _permissions(state: ObjectsState, token: str) -> set[str]:
    return state.token_permissions.get(token, set(ADS_PERMISSIONS))


def _pick(obj: dict[str, Any], fields: str, default: tuple[str, ...]) -> dict[str, Any]:
    wanted = [f.strip() for f in fields.split(",") if f.strip()] or list(default)
    out = {"id": obj["id"]}
    out.update({f: obj[f] for f in wanted if f in obj})
    return out


@router.post("/_sandbox/objects")
async def load_objects(request: Request) -> dict[str, Any]:
    """Load `{"pixels": [...], "ad_accounts": [...], "token_permissions": {token: [perm, …]}}`."""
    body = await request.json()
    state = _state(request)
    for pixel in body.get("pixels", []):
        state.pixels[str(pixel["id"])] = dict(pixel, id=str(pixel["id"]))
    for account in body.get("ad_accounts", []):
        digits = str(account.get("account_id") or account["id"]).removeprefix("act_")
        state.ad_accounts[digits] = dict(account, id=f"act_{digits}", account_id=digits)
    for token, perms in body.get("token_permissions", {}).items():
        state.token_permissions[str(token)] = {str(p) for p in perms}
    return {"pixels": len(state.pixels), "ad_accounts": len(state.ad_accounts)}


@router.get("/_sandbox/objects")
async def objects_calls(request: Request) -> dict[str, Any]:
    return {"calls": _state(request).calls}


@router.get("/{version}/act_{account_id}")
async def read_ad_account(request: Request, version: str, account_id: str) -> JSONResponse:
    state = _state(request)
    params = dict(request.query_params)
    state.calls.append(f"GET act_{account_id} fields={params.get('fields', '')}")
    if (err := _auth(request, params)) is not None:
        return err
    account = state.ad_accounts.get(account_id)
    if account is None:
        return _not_found(f"act_{account_id}")
    if not _permissions(state, params["access_token"]) & ADS_PERMISSIONS:
        return _error("(#200) Ad account owner has NOT grant ads_management or ads_read permission", 200)
    return JSONResponse(_pick(account, params.get("fields", ""), _ACCOUNT_DEFAULT))


def read_pixel(request: Request, pixel_id: str) -> JSONResponse:
    """A dataset (pixel); also reached from the report-run route, which takes every numeric id first."""
    state = _state(request)
    params = dict(request.query_params)
    state.calls.append(f"GET {pixel_id} fields={params.get('fields', '')}")
    if (err := _auth(request, params)) is not None:
        return err
    pixel = state.pixels.get(pixel_id)
    if pixel is None or not _permissions(state, params["access_token"]) & ADS_PERMISSIONS:
        return _not_found(pixel_id)  # Meta does not say whether it exists or the token cannot see it
    return JSONResponse(_pick(pixel, params.get("fields", ""), _PIXEL_DEFAULT))


@router.get("/{version}/{object_id}")
async def read_object(request: Request, version: str, object_id: str) -> JSONResponse:
    return read_pixel(request, object_id)
