"""The alternative sender for restatements and retractions: the Google Ads API's
ConversionAdjustmentUploadService (`POST {base}/{version}/customers/{customer}:uploadConversionAdjustments`),
for accounts Google still allows on it. The Data Manager API restates but cannot retract; this one can.

Requests carry `partialFailure: true` (Google requires it): a 200 can hold per-adjustment errors in
`partialFailureError` (a `google.rpc.Status` whose GoogleAdsFailure details locate each error by
`conversion_adjustments[index]`). An adjustment that is already in effect (a retraction of a retracted
conversion) counts as done, so a resend is harmless; any other failed adjustment makes the request
INVALID, which the dispatcher bisects until that adjustment is alone and dead-lettered with Google's
reason. Errors outside the adjustments (auth, quota, the allowlist) arrive as the RPC error and are
classified like the Data Manager API's (`poas.google.errors`)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from poas.domain.delivery_errors import Disposition
from poas.domain.destinations import GOOGLE_ADJUSTMENT, parse_google_destination
from poas.google.datamanager import Accepted, DataManagerClient, GoogleCredentials
from poas.google.errors import GoogleError, from_response

MAX_ADJUSTMENTS = 2000  # poas's batch limit for this sender (claims are at most 1000 anyway)
ALREADY_DONE = frozenset({"CONVERSION_ALREADY_RETRACTED"})


def adjustment_errors(body: Any) -> list[tuple[int | None, str, str]]:
    """(index, error code, message) of each failed adjustment in a partialFailureError."""
    status = body.get("partialFailureError") if isinstance(body, dict) else None
    out: list[tuple[int | None, str, str]] = []
    if not isinstance(status, dict) or not status.get("code"):
        return out
    for detail in status.get("details") or []:
        for error in (detail or {}).get("errors") or []:
            codes = error.get("errorCode") or {}
            code = next((str(v) for v in codes.values()), "UNKNOWN") if isinstance(codes, dict) else "UNKNOWN"
            index = None
            for el in ((error.get("location") or {}).get("fieldPathElements")) or []:
                if el.get("fieldName") == "conversion_adjustments" and "index" in el:
                    index = int(el["index"])
            out.append((index, code, str(error.get("message") or code)))
    if not out:
        out.append((None, "UNKNOWN", str(status.get("message") or "partial failure")))
    return out


class AdjustmentClient(DataManagerClient):
    """Sends ConversionAdjustments; shares the OAuth token handling with the Data Manager client."""

    kind = GOOGLE_ADJUSTMENT
    max_batch = MAX_ADJUSTMENTS
    max_event_age = timedelta(days=3650)  # an adjustment is dated now; its conversion's age is Google's call

    def __init__(self, base_url: str, version: str, token_url: str, **kw: Any) -> None:
        super().__init__(base_url, token_url, **kw)
        self.version = version

    async def send(self, destination_id: str, payloads: Sequence[str], creds: GoogleCredentials) -> Accepted:
        if not 1 <= len(payloads) <= MAX_ADJUSTMENTS:
            raise ValueError(f"a request carries 1..{MAX_ADJUSTMENTS} adjustments")
        customer, _ = parse_google_destination(destination_id)
        body = (
            '{"conversionAdjustments":['
            + ",".join(payloads)
            + f'],"partialFailure":true,"validateOnly":{json.dumps(creds.validate_only)}}}'
        ).encode()
        url = f"{self.base_url}/{self.version}/customers/{customer}:uploadConversionAdjustments"
        started = time.monotonic()
        resp = await self._post_to(url, body, await self.access_token(creds), creds)
        if resp.status_code == 401:
            resp = await self._post_to(url, body, await self.access_token(creds, fresh=True), creds)
        latency = round((time.monotonic() - started) * 1000)
        if resp.status_code != 200:
            err = from_response(resp.status_code, resp.content, creds.secrets)
            err.latency_ms = latency
            raise err
        try:
            answer = resp.json()
        except ValueError:
            answer = {}
        failed = [(i, code, msg) for i, code, msg in adjustment_errors(answer) if code not in ALREADY_DONE]
        if failed:
            text = "; ".join(
                f"conversion_adjustments[{i}]: {code} {msg}" if i is not None else f"{code} {msg}"
                for i, code, msg in failed[:5]
            )
            err = GoogleError(Disposition.INVALID, f"partial failure: {text}", http_status=200)
            err.latency_ms = latency
            raise err
        return Accepted(len(payloads), str(answer.get("jobId") or "") or None, 200, latency)
