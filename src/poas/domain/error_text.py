"""Error and note text safe to store and show: e-mail addresses and phone numbers masked, ids kept.

An error message may quote a value from an order (a customer's e-mail, a phone number typed into an
address line), so stored reasons pass through `mask_personal`. Platform ids are long digit runs too
(Shopify order 5765418819799, variant 44519034716375), and an operator needs them to find the order, so
the rule tells them apart by where a number stands, not by its length:

- kept: a digit run right after an id word — `order`, `refund`, `line`, `variant`, `product`,
  `item`, `checkout`, `transaction`, `fulfillment`, `inbox`, `event`, `row`, `webhook`, `delivery`,
  or any `id` / `…_id` key (`order_id=…`, `"id": …`), also in URL paths (`/orders/…`); a
  comma-separated list of them after a plural (`orders 1001, 1002`, `ids …`, `unit cost for …`);
  an order name `#1001`; a `gid://shopify/Order/…` URI; an ISO date (`2026-11-20`);
- masked as `<number>`: every other run of 8 or more digits and separators (`+47 912 34 567`,
  `912-34-567`, `91234567`), and an id word's number when it carries a `+` or separators (a phone
  number never passes as an id because it follows the word `order`).

E-mail addresses become `<email>` before anything else.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[^\s@'\"]+@[^\s@'\"]+")
_ONE_ID = (
    r"order|refund|line|variant|product|item|checkout|transaction|fulfillment|inbox|event|row|webhook"
    r"|delivery|(?:[a-z]+_)?id"
)
_ID_LISTS = (
    r"orders|refunds|lines|variants|products|items|checkouts|transactions|fulfillments|events|rows"
    r"|webhooks|deliveries|unit\s+cost\s+for|(?:[a-z]+_)?ids"
)
_SEP = r"[\s:=#\"'/(\[]{0,4}"
# A bare id: digits not followed by more digits or by a separator and a digit (`912 34 567` is no id).
_BARE_ID = r"\d+(?!\d|[ \-]\d)"
_KEEP = (
    r"(?P<gid>gid://\S+)"
    r"|(?P<date>\b\d{4}-\d{2}-\d{2}(?!\d))"
    rf"|(?P<one>\b(?:{_ONE_ID})\b{_SEP}{_BARE_ID})"
    rf"|(?P<list>\b(?:{_ID_LISTS})\b{_SEP}{_BARE_ID}(?:\s*,\s*{_BARE_ID})*)"
    rf"|(?P<name>#{_BARE_ID})"
)
_PHONE = r"(?P<phone>\+?\d[\d \-]{6,}\d)"
_TOKENS = re.compile(f"{_KEEP}|{_PHONE}", re.IGNORECASE)


def _keep_ids(match: re.Match[str]) -> str:
    return "<number>" if match.group("phone") is not None else match.group(0)


def mask_personal(text: str) -> str:
    """`text` with e-mail addresses and phone-like numbers masked; platform ids and dates kept."""
    return _TOKENS.sub(_keep_ids, _EMAIL.sub("<email>", text))
