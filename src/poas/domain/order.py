"""The canonical order: what every source (Shopify, WooCommerce, JSON, CSV) is mapped into.

Amounts are Decimal in the order's currency, on the basis the shop charges them: when
`prices_include_vat` is true a line's `unit_price` and `discount` include VAT and `tax` is the VAT
inside them; when false, `tax` comes on top. Contact data lives here only in memory; the store keeps
hashes (see `poas.domain.pii`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)
# Financial statuses after which the payment was captured (Shopify's names; the sources map to them).
CAPTURED_STATUSES = frozenset({"paid", "partially_paid", "partially_refunded", "refunded"})


class RestockType(StrEnum):
    """What happened to refunded goods (Shopify's restock_type)."""

    RETURN = "return"  # goods came back to stock: their cost is recovered
    CANCEL = "cancel"  # never shipped: cost recovered, no return handling
    NO_RESTOCK = "no_restock"  # goods lost or kept by the customer: cost not recovered
    LEGACY_RESTOCK = "legacy_restock"  # treated as RETURN


@dataclass(frozen=True, slots=True)
class OrderLine:
    line_id: str
    quantity: int
    unit_price: Decimal
    sku: str | None = None
    variant_id: str | None = None
    product_id: str | None = None
    title: str = ""
    category: str | None = None
    discount: Decimal = ZERO  # whole-line discount, same VAT basis as unit_price
    tax: Decimal = ZERO  # VAT on the line after discount
    tax_rate: Decimal | None = None
    gift_card: bool = False
    grams: int = 0
    unit_cost: Decimal | None = None  # cost reported by the platform itself (e.g. WooCommerce COGS meta)

    @property
    def cost_key(self) -> str | None:
        """The key the cost book is searched by: variant id, else SKU."""
        return self.variant_id or self.sku


@dataclass(frozen=True, slots=True)
class ShippingLine:
    price: Decimal
    method: str = ""
    title: str = ""
    discount: Decimal = ZERO
    tax: Decimal = ZERO
    tax_rate: Decimal | None = None


@dataclass(frozen=True, slots=True)
class RefundLine:
    line_id: str
    quantity: int
    restock_type: RestockType = RestockType.NO_RESTOCK
    amount: Decimal | None = None  # refunded for this line after discount, same VAT basis as prices
    tax: Decimal | None = None  # VAT inside / on top of `amount`


@dataclass(frozen=True, slots=True)
class Refund:
    refund_id: str
    processed_at: datetime
    lines: tuple[RefundLine, ...] = ()
    shipping: Decimal = ZERO  # shipping refunded, same VAT basis as prices
    shipping_tax: Decimal = ZERO
    adjustment: Decimal = ZERO  # other amount refunded (goodwill, discrepancy), positive = money back
    adjustment_tax: Decimal = ZERO
    note: str = ""


@dataclass(frozen=True, slots=True)
class Customer:
    """Raw contact data: in memory only, hashed before anything is stored or sent."""

    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    external_id: str | None = None
    gender: str | None = None
    date_of_birth: str | None = None


@dataclass(frozen=True, slots=True)
class Attribution:
    landing_url: str | None = None
    referrer: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_content: str | None = None
    utm_term: str | None = None
    fbclid: str | None = None
    fbc: str | None = None
    fbp: str | None = None
    gclid: str | None = None  # Google click ids (poas.domain.google_identity.clean_click_id)
    gbraid: str | None = None
    wbraid: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class Consent:
    """None = the source said nothing; the shop's consent policy decides what that means."""

    marketing: bool | None = None
    ads_tracking: bool | None = None


@dataclass(frozen=True, slots=True)
class Order:
    shop_id: str
    order_id: str
    created_at: datetime
    currency: str
    lines: tuple[OrderLine, ...]
    prices_include_vat: bool = True
    processed_at: datetime | None = None
    updated_at: datetime | None = None
    name: str = ""
    shipping_lines: tuple[ShippingLine, ...] = ()
    gateway: str | None = None
    financial_status: str = "paid"
    shipping_country: str | None = None
    customer: Customer = field(default_factory=Customer)
    attribution: Attribution = field(default_factory=Attribution)
    consent: Consent = field(default_factory=Consent)
    test: bool = False
    cancelled_at: datetime | None = None
    refunds: tuple[Refund, ...] = ()
    actual_payment_fee: Decimal | None = None  # the gateway's real fee when the source knows it
    source: str = "api"

    @property
    def placed_at(self) -> datetime:
        """The time costs, rates and FX are looked up by."""
        return self.processed_at or self.created_at

    @property
    def total_grams(self) -> int:
        return sum(line.grams * line.quantity for line in self.lines)

    @property
    def cancelled(self) -> bool:
        """Cancelled (`cancelled_at` set) or its payment voided (`financial_status` "voided")."""
        return self.cancelled_at is not None or self.financial_status.lower() == "voided"

    @property
    def payment_captured(self) -> bool:
        """Whether money was taken: a voided, pending or merely authorized payment captured nothing."""
        return self.financial_status.lower() in CAPTURED_STATUSES

    def line(self, line_id: str) -> OrderLine | None:
        for ln in self.lines:
            if ln.line_id == line_id:
                return ln
        return None


def utc(dt: datetime) -> datetime:
    """Require an aware datetime and return it in UTC."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"timestamp {dt.isoformat()} has no timezone")
    return dt.astimezone(UTC)
