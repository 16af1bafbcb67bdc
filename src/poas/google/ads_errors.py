"""Google Ads API errors, classified once where they enter: auth, permission, quota, transient, invalid.

A failed call answers Google's error model (`{"error": {code, message, status, details}}`); the
detail whose `@type` ends in `GoogleAdsFailure` lists `errors[]` with an `errorCode` such as
`{"authenticationError": "OAUTH_TOKEN_EXPIRED"}` or `{"quotaError": "RESOURCE_EXHAUSTED"}`, a
message, and for quota errors `details.quotaErrorDetails.retryDelay` ("30s").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["auth", "permission", "quota", "transient", "invalid"]

# What the shop owner fixes, by Google's error code (one line each; no secret ever included).
HINTS: dict[str, str] = {
    "OAUTH_TOKEN_EXPIRED": "the access token expired and a fresh one was refused too",
    "OAUTH_TOKEN_INVALID": "the access token was refused; check google_ads_client_id / _client_secret",
    "OAUTH_TOKEN_REVOKED": "the OAuth grant was revoked: create a new google_ads_refresh_token",
    "OAUTH_TOKEN_DISABLED": "the OAuth grant is disabled: create a new google_ads_refresh_token",
    "NOT_ADS_USER": "the Google account of the refresh token has no Google Ads access",
    "CUSTOMER_NOT_FOUND": "no Google Ads account with that id: check google_ads_customer_id",
    "CLIENT_CUSTOMER_ID_INVALID": "google_ads_customer_id is not a 10-digit customer id",
    "USER_PERMISSION_DENIED": (
        "the user may not read this account; for an account under a manager (MCC) set "
        "google_ads_login_customer_id to the manager's id"
    ),
    "INVALID_LOGIN_CUSTOMER_ID_SERVING_CUSTOMER_ID_COMBINATION": (
        "google_ads_login_customer_id does not manage google_ads_customer_id"
    ),
    "DEVELOPER_TOKEN_NOT_APPROVED": (
        "the developer token is approved for test accounts only: apply for Basic access"
    ),
    "DEVELOPER_TOKEN_PROHIBITED": "the developer token may not be used with this Google Cloud project",
    "CUSTOMER_NOT_ENABLED": "the Google Ads account is not enabled (new or cancelled)",
    "PROJECT_DISABLED": "the Google Ads API is not enabled in the OAuth client's Google Cloud project",
    "RESOURCE_EXHAUSTED": "the API quota is used up; try again later",
    "RESOURCE_TEMPORARILY_EXHAUSTED": "too many requests in a short time; try again shortly",
}


class GoogleAdsError(Exception):
    """A Google Ads API (or OAuth) call that failed; `kind` decides retry, `str()` is one line."""

    def __init__(
        self,
        message: str,
        *,
        kind: Kind,
        codes: tuple[str, ...] = (),
        status: int = 0,
        retry_after_s: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: Kind = kind
        self.codes = codes
        self.status = status
        self.retry_after_s = retry_after_s
        self.request_id = request_id

    @property
    def token_refused(self) -> bool:
        """The access token (not the grant behind it) was refused: a fresh one may pass."""
        return self.kind == "auth" and (
            not self.codes or any(c in ("OAUTH_TOKEN_EXPIRED", "OAUTH_TOKEN_INVALID") for c in self.codes)
        )


@dataclass(frozen=True, slots=True)
class _Failure:
    codes: tuple[tuple[str, str], ...]  # (family, code), e.g. ("quotaError", "RESOURCE_EXHAUSTED")
    messages: tuple[str, ...]
    retry_delay_s: float | None
    request_id: str | None


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")


def _seconds(text: Any) -> float | None:
    m = _DURATION.match(str(text or "").strip())
    return float(m.group(1)) if m else None


def _failure(error: dict[str, Any]) -> _Failure:
    codes: list[tuple[str, str]] = []
    messages: list[str] = []
    delay: float | None = None
    request_id = None
    for detail in error.get("details") or []:
        if not isinstance(detail, dict) or not str(detail.get("@type", "")).endswith("GoogleAdsFailure"):
            continue
        request_id = detail.get("requestId") or request_id
        for item in detail.get("errors") or []:
            if not isinstance(item, dict):
                continue
            for family, code in (item.get("errorCode") or {}).items():
                codes.append((str(family), str(code)))
            if item.get("message"):
                messages.append(str(item["message"]))
            quota = (item.get("details") or {}).get("quotaErrorDetails") or {}
            delay = _seconds(quota.get("retryDelay")) or delay
    return _Failure(tuple(codes), tuple(messages), delay, request_id)


def _kind(status: int, grpc_status: str, families: set[str]) -> Kind:
    if "authenticationError" in families or status == 401 or grpc_status == "UNAUTHENTICATED":
        return "auth"
    if "authorizationError" in families or status == 403 or grpc_status == "PERMISSION_DENIED":
        return "permission"
    if "quotaError" in families or status == 429 or grpc_status == "RESOURCE_EXHAUSTED":
        return "quota"
    if status >= 500 or grpc_status in ("INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED", "UNKNOWN"):
        return "transient"
    return "invalid"


def classify(status: int, body: Any, *, what: str) -> GoogleAdsError:
    """The error for an HTTP answer that is not 200, from its Google-shaped body when it has one."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        kind = _kind(status, "", set())
        return GoogleAdsError(f"{what}: HTTP {status} without a Google error body", kind=kind, status=status)
    failure = _failure(error)
    grpc_status = str(error.get("status") or "")
    kind = _kind(status, grpc_status, {f for f, _ in failure.codes})
    names = tuple(code for _, code in failure.codes)
    hint = next((HINTS[c] for c in names if c in HINTS), None)
    shown = ", ".join(f"{f}.{c}" for f, c in failure.codes) or grpc_status or f"HTTP {status}"
    text = hint or (failure.messages[0] if failure.messages else str(error.get("message") or ""))
    text = " ".join(text.split())[:300]
    suffix = f" (request {failure.request_id})" if failure.request_id else ""
    return GoogleAdsError(
        f"{what}: {shown}: {text}{suffix}",
        kind=kind,
        codes=names,
        status=status,
        retry_after_s=failure.retry_delay_s,
        request_id=failure.request_id,
    )


def oauth_error(status: int, body: Any) -> GoogleAdsError:
    """The refresh-token exchange failed: `invalid_grant` (revoked / expired grant), `invalid_client`."""
    code = str(body.get("error") or "") if isinstance(body, dict) else ""
    if status >= 500:
        return GoogleAdsError(f"Google OAuth: HTTP {status}", kind="transient", status=status)
    fix = {
        "invalid_grant": "the refresh token is expired or revoked: create a new google_ads_refresh_token",
        "invalid_client": "google_ads_client_id / google_ads_client_secret are not a valid OAuth client",
        "unauthorized_client": "the OAuth client may not use this refresh token (made by another client)",
    }.get(code, "the token exchange was refused")
    return GoogleAdsError(
        f"Google OAuth: {code or f'HTTP {status}'}: {fix}", kind="auth", codes=(code,), status=status
    )
