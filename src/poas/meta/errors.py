"""Graph API errors, classified once where they enter: retry, throttle, pause, invalid (bisect) or dead."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

RETRY_CODES = frozenset({1, 2})
THROTTLE_CODES = frozenset({4, 17, 341, 613})
PAUSE_CODES = frozenset({190, 102, 10}) | frozenset(range(200, 300))
INVALID_CODES = frozenset({100})


class Disposition(StrEnum):
    """What the dispatcher does with a batch that got this error."""

    RETRY = "retry"  # transient: the same batch again after a backoff
    THROTTLE = "throttle"  # rate limited: hold the whole pixel, then retry
    PAUSE = "pause"  # token or permission problem: stop the pixel and alert a human
    INVALID = "invalid"  # an event in the batch is bad: bisect to find it
    DEAD = "dead"  # other client error: retrying cannot help


class CapiError(Exception):
    """A failed request to the Conversions API; `message` is already free of tokens."""

    def __init__(
        self,
        disposition: Disposition,
        message: str,
        *,
        http_status: int | None = None,
        code: int | None = None,
        subcode: int | None = None,
        fbtrace_id: str | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.disposition = disposition
        self.message = message
        self.http_status = http_status
        self.code = code
        self.subcode = subcode
        self.fbtrace_id = fbtrace_id
        self.error_type = error_type
        self.latency_ms: int | None = None  # set by the client when the request got that far
        self.events_received: int | None = None  # a 200 whose count did not match the batch

    def describe(self) -> str:
        """One line for last_error / the delivery log: Meta's message with its codes."""
        parts = [f"{self.disposition}:"]
        if self.http_status is not None:
            parts.append(f"http {self.http_status}")
        if self.code is not None:
            parts.append(f"code {self.code}" + (f"/{self.subcode}" if self.subcode else ""))
        parts.append(self.message)
        if self.fbtrace_id:
            parts.append(f"(fbtrace_id {self.fbtrace_id})")
        return " ".join(parts)


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
