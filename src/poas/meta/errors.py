"""Graph API errors, classified once where they enter: retry, throttle, pause, invalid (bisect) or dead."""

from __future__ import annotations

import json
from typing import Any

from poas.domain.delivery_errors import DeliveryError
from poas.domain.delivery_errors import Disposition as Disposition  # re-exported: the Meta side names it here

RETRY_CODES = frozenset({1, 2})
THROTTLE_CODES = frozenset({4, 17, 341, 613})
PAUSE_CODES = frozenset({190, 102, 10}) | frozenset(range(200, 300))
INVALID_CODES = frozenset({100})


class CapiError(DeliveryError):
    """A failed request to the Conversions API; `message` is already free of tokens."""


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Replace every secret (token, proof) in `text` with a marker."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def disposition_for(http_status: int, code: int | None, is_transient: bool) -> Disposition:
    if code in THROTTLE_CODES:
        return Disposition.THROTTLE
    if code in PAUSE_CODES:
        return Disposition.PAUSE
    if code in INVALID_CODES:
        return Disposition.INVALID
    if code in RETRY_CODES or is_transient or http_status >= 500 or http_status == 429:
        return Disposition.RETRY
    if http_status >= 400:
        return Disposition.DEAD
    return Disposition.RETRY  # a 2xx/3xx without the success body: unexpected, try again


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def from_response(http_status: int, body: bytes, secrets: tuple[str, ...] = ()) -> CapiError:
    """Classify a non-success answer from its status and (maybe) Graph error envelope."""
    envelope: dict[str, Any] = {}
    try:
        parsed = json.loads(body)
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            envelope = parsed["error"]
    except ValueError:
        pass
    code = _int(envelope.get("code"))
    transient = bool(envelope.get("is_transient"))
    if envelope:
        message = str(envelope.get("error_user_msg") or envelope.get("message") or "no message")
    else:
        message = f"unexpected answer: {body[:200].decode('utf-8', 'replace')}"
    return CapiError(
        disposition_for(http_status, code, transient),
        redact(message, secrets),
        http_status=http_status,
        code=code,
        subcode=_int(envelope.get("error_subcode")),
        fbtrace_id=str(envelope["fbtrace_id"]) if envelope.get("fbtrace_id") else None,
        error_type=str(envelope["type"]) if envelope.get("type") else None,
    )


def transport_error(exc: Exception, secrets: tuple[str, ...] = ()) -> CapiError:
    """Timeouts and connection failures: always worth a retry."""
    kind = type(exc).__name__
    return CapiError(Disposition.RETRY, redact(f"{kind}: {exc}" if str(exc) else kind, secrets))
