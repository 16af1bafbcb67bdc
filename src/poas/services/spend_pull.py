"""One pull of ad spend from an ads API with the recurring sync's status recorded: what the Meta and
the Google spend syncs share.

The API client is the caller's, or one opened for the pull and closed after it. The API's own error
becomes a `SpendError` with its message. For the recurring sync (days reaching yesterday or later)
the pull's success or its failure's reason is recorded as an attempt of the sync's kind
(services.sync_status), so a sync that stopped succeeding is alerted; a backfill of older days, and a
shop that lacks what a sync needs (`SpendConfigError`), record nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import Engine

from poas.domain.report_rows import SpendRow
from poas.services import sync_status
from poas.services.spend_errors import SpendConfigError, SpendError


class ApiClient(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=ApiClient)
R = TypeVar("R")


def pull_with_status(
    engine: Engine,
    kind: str,
    shop_id: str,
    *,
    client: C | None,
    open_client: Callable[[], C],
    fetch: Callable[[C], Iterable[SpendRow]],
    api_error: type[Exception],
    store: Callable[[list[SpendRow]], R],
    now: datetime,
    record: bool,
) -> R:
    """`store(fetch(client))`; with `record` (the recurring sync) its outcome is recorded as an attempt
    of sync `kind` for the shop."""
    try:
        result = store(_fetch(client, open_client, fetch, api_error))
    except SpendConfigError:
        raise  # nothing to sync with: no sync to go silent
    except Exception as exc:
        if record:
            reason = sync_status.reason_text(exc, known=(SpendError,))
            sync_status.record_attempt(engine, kind, shop_id, now=now, error=reason)
        raise
    if record:
        sync_status.record_attempt(engine, kind, shop_id, now=now, error=None)
    return result


def _fetch(
    client: C | None,
    open_client: Callable[[], C],
    fetch: Callable[[C], Iterable[SpendRow]],
    api_error: type[Exception],
) -> list[SpendRow]:
    own = client is None
    used = open_client() if client is None else client
    try:
        return list(fetch(used))
    except api_error as exc:
        raise SpendError(str(exc)) from exc
    finally:
        if own:
            used.close()
