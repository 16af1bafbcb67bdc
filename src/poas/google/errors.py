"""Data Manager API errors, classified once where they enter (the Google API error model: a
`google.rpc.Status` with `code`, `message`, `status` and `details`; fast-fail, so one bad event fails
the whole request).

- UNAUTHENTICATED (401, after one token refresh) and PERMISSION_DENIED (403): pause the destination.
- NOT_FOUND (404) or an INVALID_ARGUMENT whose field violations name the destination (not an event):
  the configured account or conversion action is wrong, pause the destination.
- RESOURCE_EXHAUSTED (429): throttle the destination.
- INVALID_ARGUMENT naming events: the bisect-equivalent (halve the batch until the bad event is alone,
  then dead-letter it with Google's reason).
- UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED, ABORTED, any 5xx and transport failures: retry.
- Anything else in 4xx (FAILED_PRECONDITION, …): dead.
"""

from __future__ import annotations

import json
from typing import Any

from poas.domain.delivery_errors import DeliveryError, Disposition

RETRY_STATUSES = frozenset({"UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED", "ABORTED", "UNKNOWN"})
PAUSE_STATUSES = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED", "NOT_FOUND"})


class GoogleError(DeliveryError):
    """A failed request to the Data Manager API (or its OAuth token endpoint); no tokens in `message`."""

    trace_label = "requestId"


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def field_violations(details: Any) -> list[dict[str, str]]:
    """The BadRequest detail's field violations (`field`, `description`, `reason`), if any."""
    out: list[dict[str, str]] = []
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.BadRequest"):
            for v in detail.get("fieldViolations") or []:
                if isinstance(v, dict):
                    out.append({k: str(v.get(k, "")) for k in ("field", "description", "reason")})
    return out


def _request_id(details: Any) -> str | None:
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RequestInfo"):
            rid = detail.get("requestId")
            return str(rid) if rid else None
    return None


def disposition_for(http_status: int, status: str, violations: list[dict[str, str]]) -> Disposition:
    if status == "RESOURCE_EXHAUSTED" or http_status == 429:
        return Disposition.THROTTLE
    if status in PAUSE_STATUSES or http_status in (401, 403, 404):
        return Disposition.PAUSE
    if status == "INVALID_ARGUMENT" or (http_status == 400 and not status):
        if any(v["field"].startswith("destinations") for v in violations):
            return Disposition.PAUSE
        return Disposition.INVALID
    if status in RETRY_STATUSES or http_status >= 500:
        return Disposition.RETRY
    if http_status >= 400:
        return Disposition.DEAD
    return Disposition.RETRY


def from_response(http_status: int, body: bytes, secrets: tuple[str, ...] = ()) -> GoogleError:
    """Classify a non-success answer from its status and (maybe) its google.rpc.Status body."""
    envelope: dict[str, Any] = {}
    try:
        parsed = json.loads(body)
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            envelope = parsed["error"]
    except ValueError:
        pass
    status = str(envelope.get("status") or "")
    details = envelope.get("details")
    violations = field_violations(details)
    if envelope:
        message = str(envelope.get("message") or "no message")
        if violations:
            message += "; " + "; ".join(
                f"{v['field']}: {v['reason'] or v['description']}" for v in violations[:5]
            )
    else:
        message = f"unexpected answer: {body[:200].decode('utf-8', 'replace')}"
    return GoogleError(
        disposition_for(http_status, status, violations),
        redact(f"{status}: {message}" if status else message, secrets),
        http_status=http_status,
        fbtrace_id=_request_id(details),
        error_type=status or None,
    )


def transport_error(exc: Exception, secrets: tuple[str, ...] = ()) -> GoogleError:
    """Timeouts and connection failures: always worth a retry."""
    kind = type(exc).__name__
    return GoogleError(Disposition.RETRY, redact(f"{kind}: {exc}" if str(exc) else kind, secrets))
