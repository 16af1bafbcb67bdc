"""Pickling a slots dataclass as its constructor and field values.

A slots dataclass otherwise pickles through Python-level `__getstate__` / `__setstate__`; the import
rows a backfill's workers send back for every order (`OrderRows`, `SnapshotValues`, `PreparedOrder`)
reduce to their fields instead.
"""

from __future__ import annotations

from typing import Any


class FieldPickle:
    """Base of a `@dataclass(slots=True)`: pickled as `cls(*fields)` (its `__slots__` are its fields,
    in order)."""

    __slots__ = ()

    def __reduce__(self) -> tuple[type[Any], tuple[Any, ...]]:
        cls = type(self)
        names: tuple[str, ...] = cls.__slots__
        return (cls, tuple(getattr(self, name) for name in names))
