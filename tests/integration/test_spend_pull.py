"""The pull both spend syncs (Meta, Google) share: the client's life, the API error's translation, and
the recurring sync's attempt recorded (or not)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from poas.domain.report_rows import SpendRow
from poas.services import sync_status
from poas.services.spend_errors import SpendConfigError, SpendError
from poas.services.spend_pull import pull_with_status
from poas.store import syncs

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
KIND = "test_spend_kind"


class ApiFailure(Exception):
    pass


class FakeClient:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail, self.closed, self.calls = fail, False, 0

    def rows(self) -> Iterable[SpendRow]:
        self.calls += 1
        if self.fail:
            raise ApiFailure("quota exhausted for account 123")
        yield SpendRow(
            account_id="act_1",
            day=date(2026, 11, 19),
            campaign_id="c1",
            campaign_name="C",
            adset_id="a1",
            adset_name="A",
            ad_id="ad1",
            ad_name="Ad",
            currency="NOK",
            spend=Decimal("10.00"),
        )

    def close(self) -> None:
        self.closed = True


def _pull(engine: Engine, client: FakeClient | None, opened: list[FakeClient], *, record: bool) -> int:
    def open_client() -> FakeClient:
        opened.append(FakeClient())
        return opened[-1]

    return pull_with_status(
        engine,
        KIND,
        "s1",
        client=client,
        open_client=open_client,
        fetch=lambda c: c.rows(),
        api_error=ApiFailure,
        store=len,
        now=NOW,
        record=record,
    )


def _row(engine: Engine) -> syncs.SyncRow | None:
    return sync_status.last_row(engine, KIND, "s1")


def test_an_opened_client_is_closed_and_a_given_one_is_left_open(engine: Engine) -> None:
    opened: list[FakeClient] = []
    assert _pull(engine, None, opened, record=False) == 1
    assert len(opened) == 1 and opened[0].closed and opened[0].calls == 1
    given = FakeClient()
    assert _pull(engine, given, opened, record=False) == 1
    assert len(opened) == 1 and not given.closed and given.calls == 1
    assert _row(engine) is None  # a backfill records nothing


def test_the_recurring_pull_records_its_success(engine: Engine) -> None:
    _pull(engine, FakeClient(), [], record=True)
    row = _row(engine)
    assert row is not None and row.last_success_at == NOW and row.last_failure_at is None


def test_an_api_error_becomes_a_spend_error_recorded_with_its_reason(engine: Engine) -> None:
    with pytest.raises(SpendError, match="quota exhausted") as caught:
        _pull(engine, FakeClient(fail=True), [], record=True)
    assert isinstance(caught.value.__cause__, ApiFailure)
    row = _row(engine)
    assert row is not None and row.last_failure_at == NOW and row.last_success_at is None
    assert row.last_error == "SpendError: quota exhausted for account 123"


def test_a_failed_backfill_records_nothing(engine: Engine) -> None:
    with pytest.raises(SpendError):
        _pull(engine, FakeClient(fail=True), [], record=False)
    assert _row(engine) is None


def test_a_shop_without_what_a_sync_needs_records_nothing(engine: Engine) -> None:
    def no_token() -> FakeClient:
        raise SpendConfigError("shop s1: no access_token")

    with pytest.raises(SpendConfigError):
        pull_with_status(
            engine,
            KIND,
            "s1",
            client=None,
            open_client=no_token,
            fetch=lambda c: c.rows(),
            api_error=ApiFailure,
            store=len,
            now=NOW,
            record=True,
        )
    assert _row(engine) is None
