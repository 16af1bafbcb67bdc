"""The import rows a backfill's workers send back pickle as their fields and come back equal."""

from __future__ import annotations

import pickle

from poas.services.ingest import PreparedOrder
from poas.store.order_rows import OrderRows
from poas.store.snapshots import SnapshotValues


def test_import_rows_pickle_as_their_fields() -> None:
    rows = OrderRows(("s", "1"), ("s", "1", "#1"), [("s", "1", "l1", 0)], [], [], [])
    snap = SnapshotValues("NOK", (100, 20, 30), True, None, '{"a":1}', 2)
    prepared = PreparedOrder(rows, 1, snap, None, 7, customer_key="c1", counts=True)
    for value in (rows, snap, prepared):
        reduced = value.__reduce__()
        assert reduced[0] is type(value) and type(value)(*reduced[1]) == value  # cls(*fields)
        assert pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)) == value
