"""Read one Graph object (a dataset/pixel, an ad account) with a shop's token, for `poas connect meta`.

GET `{graph}/{version}/{node}?fields=…` over httpx, the token and its appsecret_proof as query
parameters (as the insights client sends them; the httpx log filter in poas.meta.insights masks
them). A failed call raises CapiError classified by poas.meta.errors, its message free of the token.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx

from poas.meta import insights as _insights  # noqa: F401  (installs the token-masking httpx log filter)
from poas.meta.capi import appsecret_proof
from poas.meta.errors import CapiError, Disposition, from_response, transport_error

PIXEL_FIELDS = ("id", "name", "last_fired_time", "creation_time", "is_unavailable", "data_use_setting")
AD_ACCOUNT_FIELDS = (
    "id",
    "account_id",
    "name",
    "currency",
    "timezone_name",
    "account_status",
    "disable_reason",
)


class GraphObjectReader:
    def __init__(
        self,
        *,
        base_url: str,
        version: str,
        access_token: str,
        app_secret: str | None = None,
        timeout_s: float = 10.0,
        http: httpx.Client | None = None,
    ) -> None:
        self._base = f"{base_url.rstrip('/')}/{version}"
        self._token = access_token
        self._proof = appsecret_proof(app_secret, access_token) if app_secret else None
        self._own = http is None
        self._http = http or httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        if self._own:
            self._http.close()

    def __enter__(self) -> GraphObjectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, node: str, fields: Sequence[str]) -> dict[str, Any]:
        params = {"fields": ",".join(fields), "access_token": self._token}
        if self._proof:
            params["appsecret_proof"] = self._proof
        secrets = (self._token, self._proof or "")
        try:
            resp = self._http.get(f"{self._base}/{node}", params=params)
        except httpx.HTTPError as exc:
            raise transport_error(exc, secrets) from None
        if resp.status_code != 200:
            raise from_response(resp.status_code, resp.content, secrets)
        try:
            body = json.loads(resp.content)
        except ValueError:
            body = None
        if not isinstance(body, dict) or "id" not in body:
            raise CapiError(
                Disposition.DEAD, f"GET {node}: the answer is not a Graph object", http_status=200
            )
        return body

    def pixel(self, pixel_id: str) -> dict[str, Any]:
        return self.get(pixel_id, PIXEL_FIELDS)

    def ad_account(self, account_id: str) -> dict[str, Any]:
        digits = account_id.removeprefix("act_")
        return self.get(f"act_{digits}", AD_ACCOUNT_FIELDS)
