"""Shopify's documented restrictions on a bulk query (`bulkOperationRunQuery`), checked the way the
Admin API checks them before it starts an operation; the sandbox answers a query that breaks one with
`userErrors` (code `INVALID`), as Shopify does, so a test catches a query Shopify would refuse.

From https://shopify.dev/docs/api/usage/bulk-operations/queries#operation-restrictions: a bulk query
needs a connection; at most five connections; connections nested at most two levels deep; the top-level
`node` and `nodes` fields can't be used; a single top-level field. Shopify also refuses a connection
inside a list field (e.g. `refunds { refundLineItems { … } }`: `Order.refunds` is a list, not a
connection) with the message kept in LIST_FIELD_MESSAGE.

The query is read by a small GraphQL selection parser (fields, aliases, arguments, inline fragments):
enough for the documents a client sends, not a GraphQL engine. A field is a connection when it selects
`edges` or `nodes`; which fields are lists comes from LIST_FIELDS (the Admin API's list-typed object
fields on orders, lines, refunds, products and variants).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_CONNECTIONS = 5
MAX_NESTING = 2
LIST_FIELD_MESSAGE = (
    "Queries that contain a connection field within a list field are not currently supported."
)
# Object fields typed as lists ([T!]!) in the Admin API, on the objects a bulk query over orders,
# products or variants reaches.
LIST_FIELDS = frozenset(
    {
        "refunds",  # Order.refunds: [Refund!]!
        "fulfillments",  # Order.fulfillments
        "taxLines",  # Order / LineItem / ShippingLine
        "discountAllocations",  # LineItem / ShippingLine
        "customAttributes",  # Order / LineItem
        "options",  # Product.options
        "selectedOptions",  # ProductVariant.selectedOptions
        "duties",  # Refund.duties
    }
)
_TOKEN = re.compile(
    r'\s+|#[^\n]*|,|"(?:\\.|[^"\\])*"|\.\.\.|[{}():\[\]!=$@]|[_A-Za-z][_0-9A-Za-z]*|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?'
)


class BulkQueryError(ValueError):
    """A query that cannot be read at all (the message says where)."""


@dataclass(slots=True)
class Field:
    name: str
    children: list[Field] = field(default_factory=list)
    args: dict[str, str] = field(default_factory=dict)  # argument name -> its value's text ("$x": a variable)

    @property
    def is_connection(self) -> bool:
        return any(c.name in ("edges", "nodes") for c in self.children)


def _tokens(query: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(query):
        found = _TOKEN.match(query, pos)
        if found is None:
            raise BulkQueryError(f"unexpected character {query[pos]!r} at {pos}")
        text = found.group(0)
        if text.strip() and text != "," and not text.startswith("#"):
            out.append(text)
        pos = found.end()
    return out


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.t = tokens
        self.i = 0

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise BulkQueryError(f"expected {expected or 'more'}, found {tok or 'the end'}")
        self.i += 1
        return tok

    def skip_group(self, opening: str, closing: str) -> None:
        depth = 0
        while True:
            tok = self.take()
            depth += tok == opening
            depth -= tok == closing
            if depth == 0:
                return

    def arguments(self) -> dict[str, str]:
        """`(name: value, …)`; a value is kept as its tokens' text (lists and objects joined)."""
        self.take("(")
        args: dict[str, str] = {}
        while self.peek() != ")":
            name = self.take()
            self.take(":")
            start = self.i
            opening = self.peek()
            if opening in ("[", "{"):
                self.skip_group(opening, "]" if opening == "[" else "}")
            else:
                if self.take() == "$":
                    self.take()  # the variable's name
            args[name] = "".join(self.t[start : self.i])
        self.take(")")
        return args

    def document(self) -> list[Field]:
        if self.peek() == "query":
            self.take()
            if self.peek() not in (None, "{", "("):
                self.take()  # the operation's name
            if self.peek() == "(":
                self.skip_group("(", ")")
        fields = self.selection_set()
        if self.peek() is not None:
            raise BulkQueryError(f"unexpected {self.peek()!r} after the query")
        return fields

    def selection_set(self) -> list[Field]:
        self.take("{")
        fields: list[Field] = []
        while self.peek() != "}":
            if self.peek() == "...":
                self.take()
                if self.peek() != "on":
                    raise BulkQueryError("fragment spreads are not supported; use an inline fragment")
                self.take()
                self.take()  # the type condition
                fields.extend(self.selection_set())
                continue
            name = self.take()
            if not re.fullmatch(r"[_A-Za-z][_0-9A-Za-z]*", name):
                raise BulkQueryError(f"expected a field name, found {name!r}")
            if self.peek() == ":":
                self.take()
                name = self.take()  # an alias: the field is the name after it
            args = self.arguments() if self.peek() == "(" else {}
            while self.peek() == "@":
                self.take()
                self.take()
                if self.peek() == "(":
                    self.skip_group("(", ")")
            children = self.selection_set() if self.peek() == "{" else []
            fields.append(Field(name, children, args))
        self.take("}")
        return fields


def parse_selection(query: str) -> list[Field]:
    """The top-level fields of a query document, with their selections."""
    return _Parser(_tokens(query)).document()


def bulk_query_problems(query: str) -> list[str]:
    """What Shopify would refuse in `query` as a bulk query (empty when it would run it)."""
    try:
        roots = parse_selection(query)
    except BulkQueryError as exc:
        return [f"Invalid bulk query: {exc}"]
    problems: list[str] = []
    if len(roots) != 1:
        problems.append(f"Bulk queries must contain exactly one top-level field, found {len(roots)}")
    if any(r.name in ("node", "nodes") for r in roots):
        problems.append("The top-level `node` and `nodes` fields can't be used in a bulk query")
    connections = 0

    def walk(f: Field, depth: int, in_list: bool) -> None:
        nonlocal connections
        if f.is_connection:
            connections += 1
            if in_list and LIST_FIELD_MESSAGE not in problems:
                problems.append(LIST_FIELD_MESSAGE)
            if depth > MAX_NESTING:
                problems.append(
                    f"Bulk queries can nest connections at most {MAX_NESTING} levels deep: "
                    f"`{f.name}` is nested {depth} levels deep"
                )
        below = depth + 1 if f.is_connection else depth
        for child in f.children:
            walk(child, below, in_list or f.name in LIST_FIELDS)

    for root in roots:
        walk(root, 0, False)
    if connections == 0:
        problems.append("A bulk query needs a connection field; run this query as a normal query instead")
    if connections > MAX_CONNECTIONS:
        problems.append(
            f"Bulk queries can contain at most {MAX_CONNECTIONS} connections; this one has {connections}"
        )
    return problems
