"""Listings that stay readable in an 80-column terminal: one line per row, long text below the table.

A narrow table keeps the short columns (ids, states, times) on one line each; the one column that
can be long (an error, a note) is printed under the table as `#id text`, where it wraps as prose.
`--wide` shows every column in one table instead, for wide terminals and for grep.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rich import box
from rich.console import Console
from rich.table import Table

Column = tuple[str, int, int | None]  # header, the width it keeps, the width it never passes


def narrow_table(*columns: Column, title: str | None = None) -> Table:
    """A borderless table whose cells never wrap (a cell too long for its column ends in `…`).

    A column keeps its minimum width; one with a maximum is cut there (so long ids or shop names
    cannot push the short columns off an 80-column terminal).
    """
    table = Table(title=title, box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    for header, keep, most in columns:
        right = header in _RIGHT
        table.add_column(
            header,
            no_wrap=True,
            overflow="ellipsis",
            min_width=keep,
            max_width=most,
            justify="right" if right else "left",
        )
    return table


_RIGHT = frozenset(("id", "tries", "value", "net_revenue"))


def print_notes(console: Console, notes: Iterable[tuple[int, str]], heading: str) -> None:
    """`heading`, then `  #id text` per note (skipped when there are none)."""
    items = [(i, text) for i, text in notes if text]
    if not items:
        return
    console.print(heading, highlight=False, markup=False)
    for row_id, text in items:
        console.print(f"  #{row_id} {text}", highlight=False, markup=False, soft_wrap=False)


def short_time(t: datetime | None) -> str:
    """`11-20 14:03` (UTC as stored): a narrow column's time; `--wide` shows the full timestamp."""
    return "-" if t is None else f"{t:%m-%d %H:%M}"
