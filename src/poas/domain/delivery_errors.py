"""What the dispatcher does with a failed request, whatever the destination (a Meta pixel, a Google
Ads conversion action): each destination's client classifies its errors into these, once, where they enter."""

from __future__ import annotations

from enum import StrEnum


class Disposition(StrEnum):
    """What the dispatcher does with a batch that got this error."""

    RETRY = "retry"  # transient: the same batch again after a backoff
    THROTTLE = "throttle"  # rate limited: hold the whole destination, then retry
    PAUSE = "pause"  # token, permission or destination problem: stop the destination and alert a human
    INVALID = "invalid"  # an event in the batch is bad: bisect to find it
    DEAD = "dead"  # other client error: retrying cannot help


class DeliveryError(Exception):
    """A failed request to a destination's API; `message` is already free of tokens.

    `trace_id` is the platform's request id (Meta's fbtrace_id, Google's requestId); `code` and
    `subcode` are the platform's numeric codes where it has them."""

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
        """One line for last_error / the delivery log: the platform's message with its codes."""
        parts = [f"{self.disposition}:"]
        if self.http_status is not None:
            parts.append(f"http {self.http_status}")
        if self.code is not None:
            parts.append(f"code {self.code}" + (f"/{self.subcode}" if self.subcode else ""))
        parts.append(self.message)
        if self.fbtrace_id:
            parts.append(f"({self.trace_label} {self.fbtrace_id})")
        return " ".join(parts)

    trace_label = "fbtrace_id"
