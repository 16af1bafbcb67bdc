"""The sample Norwegian shop's fixed world: categories, products, gateways, shipping methods, campaigns.

Everything here is invented for the demo. Fee and shipping numbers are example contract rates, not
anyone's real price list; names, e-mail domains (example.no) and IP ranges (RFC 5737) are clearly fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

D = Decimal
CENT = D("0.01")
CURRENCY = "NOK"


def q(x: Decimal) -> Decimal:
    """Round to øre (half up, as shops print prices)."""
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


@lru_cache(maxsize=65536)
def s(x: Decimal) -> str:
    return str(q(x))


@lru_cache(maxsize=65536)
def money_set(x: Decimal) -> dict[str, Any]:
    """Shopify's `*_set` shape; the sample shop sells in its own currency only (cached: do not mutate)."""
    m = {"amount": s(x), "currency_code": CURRENCY}
    return {"shop_money": m, "presentment_money": dict(m)}


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    vat_rate: Decimal
    return_rate: Decimal  # probability that a sold line comes back (the generator's truth)
    sku_prefix: str


CATEGORIES: dict[str, Category] = {
    c.name: c
    for c in (
        Category("fashion", D("0.25"), D("0.30"), "FASH"),
        Category("home", D("0.25"), D("0.08"), "HOME"),
        Category("beauty", D("0.25"), D("0.06"), "BEAU"),
        Category("electronics", D("0.25"), D("0.10"), "ELEC"),
        Category("food", D("0.15"), D("0.01"), "FOOD"),
        Category("sport", D("0.25"), D("0.12"), "SPRT"),
    )
}


@dataclass(frozen=True, slots=True)
class Variant:
    variant_id: int
    sku: str
    title: str
    price: Decimal  # incl. VAT, NOK
    cost: Decimal  # ex. VAT unit cost at the start of the period, NOK
    grams: int


@dataclass(frozen=True, slots=True)
class Product:
    product_id: int
    title: str
    category: Category
    vendor: str
    tags: frozenset[str]
    variants: tuple[Variant, ...]


# title, category, price incl. VAT, cost as a share of the ex-VAT price, grams, variant set, tags
_PRODUCTS: tuple[tuple[str, str, str, str, int, str, str], ...] = (
    ("T-skjorte Basic", "fashion", "199", "0.40", 180, "size", ""),
    ("Hettegenser Fjord", "fashion", "599", "0.38", 650, "size", ""),
    ("Jeans Rett", "fashion", "899", "0.36", 700, "size", ""),
    ("Ullgenser Lofoten", "fashion", "1199", "0.35", 550, "size", ""),
    ("Vinterjakke Polar", "fashion", "2499", "0.42", 1400, "size", ""),
    ("Regnjakke Vestland", "fashion", "1499", "0.40", 800, "size", ""),
    ("Sneakers Løp", "fashion", "1299", "0.45", 950, "shoe", ""),
    ("Joggebukse Myk", "fashion", "499", "0.38", 450, "size", ""),
    ("Sokker 5-pakning", "fashion", "149", "0.45", 200, "one", ""),
    ("Lue Strikk", "fashion", "249", "0.33", 120, "one", ""),
    ("Skjerf Ull", "fashion", "349", "0.34", 200, "one", ""),
    ("Kjole Sommer", "fashion", "799", "0.37", 350, "size", ""),
    ("Skjorte Oxford", "fashion", "649", "0.38", 300, "size", ""),
    ("Shorts Chino", "fashion", "399", "0.39", 300, "size", ""),
    ("Duftlys Skog", "home", "249", "0.20", 450, "one", "premium"),
    ("Pledd Ull", "home", "899", "0.24", 1100, "color", "premium"),
    ("Keramikkvase", "home", "549", "0.22", 900, "color", "premium"),
    ("Sengesett Lin", "home", "1299", "0.28", 1500, "color", "premium"),
    ("Oppbevaringsboks 3-pk", "home", "149", "0.72", 800, "one", "bestseller"),
    ("Kjøkkenhåndklær 4-pk", "home", "129", "0.70", 300, "one", "bestseller"),
    ("Skjærebrett Eik", "home", "349", "0.45", 1200, "one", ""),
    ("Bordlampe Nord", "home", "899", "0.50", 2200, "color", ""),
    ("Putetrekk Linn", "home", "299", "0.40", 250, "color", ""),
    ("Speil Rundt", "home", "699", "0.50", 3500, "one", ""),
    ("Dørmatte Kokos", "home", "249", "0.50", 1600, "one", ""),
    ("Kaffekopp 2-pk", "home", "199", "0.45", 700, "color", ""),
    ("Ansiktsserum Glød", "beauty", "549", "0.17", 120, "one", "premium"),
    ("Fuktkrem Arktis", "beauty", "399", "0.19", 150, "one", "premium"),
    ("Leppepomade", "beauty", "99", "0.30", 30, "one", ""),
    ("Sjampo Mild", "beauty", "199", "0.35", 350, "one", ""),
    ("Balsam Mild", "beauty", "199", "0.35", 350, "one", ""),
    ("Håndkrem Tindved", "beauty", "149", "0.20", 100, "one", "premium"),
    ("Parfyme Nordlys", "beauty", "999", "0.21", 250, "one", "premium"),
    ("Ansiktsmaske Leire", "beauty", "249", "0.19", 120, "one", "premium"),
    ("Solkrem SPF30", "beauty", "229", "0.40", 220, "one", ""),
    ("Neglelakk", "beauty", "129", "0.30", 60, "color", ""),
    ("USB-C-lader 30 W", "electronics", "199", "0.73", 120, "one", "bestseller"),
    ("Ladekabel 2 m", "electronics", "99", "0.70", 60, "color", "bestseller"),
    ("Trådløse ørepropper", "electronics", "499", "0.75", 150, "color", "bestseller"),
    ("Powerbank 10 000 mAh", "electronics", "299", "0.74", 250, "one", "bestseller"),
    ("Mobildeksel", "electronics", "149", "0.68", 50, "color", "bestseller"),
    ("Bluetooth-høyttaler", "electronics", "899", "0.62", 700, "color", ""),
    ("Smartklokke", "electronics", "1999", "0.70", 200, "color", ""),
    ("Hodetelefoner", "electronics", "1499", "0.65", 400, "color", ""),
    ("Webkamera HD", "electronics", "799", "0.60", 300, "one", ""),
    ("Tastatur Trådløst", "electronics", "699", "0.60", 800, "one", ""),
    ("Kaffe 500 g", "food", "149", "0.60", 520, "one", ""),
    ("Sjokolade Mørk", "food", "79", "0.55", 120, "one", ""),
    ("Te Urter", "food", "99", "0.50", 100, "one", ""),
    ("Honning Lynghonning", "food", "129", "0.55", 400, "one", ""),
    ("Knekkebrød", "food", "59", "0.60", 300, "one", ""),
    ("Olivenolje", "food", "199", "0.60", 900, "one", ""),
    ("Granola", "food", "89", "0.55", 500, "one", ""),
    ("Syltetøy Bringebær", "food", "79", "0.55", 450, "one", ""),
    ("Yogamatte", "sport", "399", "0.45", 1300, "color", ""),
    ("Drikkeflaske", "sport", "249", "0.40", 300, "color", ""),
    ("Treningsstrikk", "sport", "199", "0.42", 200, "one", ""),
    ("Ryggsekk Tur", "sport", "799", "0.45", 900, "color", ""),
    ("Solbriller", "sport", "499", "0.30", 80, "one", ""),
    ("Lommebok Skinn", "sport", "399", "0.35", 150, "color", ""),
)

_VARIANT_SETS: dict[str, tuple[str, ...]] = {
    "size": ("S", "M", "L", "XL"),
    "shoe": ("40", "42", "44"),
    "color": ("Sort", "Natur"),
    "one": ("Standard",),
}


def _products() -> tuple[Product, ...]:
    out = []
    variant_no = 0
    for i, (title, cat_name, price, cost_share, grams, vset, tags) in enumerate(_PRODUCTS):
        cat = CATEGORIES[cat_name]
        price_d = D(price)
        ex_vat = price_d / (1 + cat.vat_rate)
        variants = []
        for j, vtitle in enumerate(_VARIANT_SETS[vset]):
            variant_no += 1
            variants.append(
                Variant(
                    variant_id=44_100_000_000 + variant_no,
                    sku=f"{cat.sku_prefix}-{i + 1:03d}-{j + 1}",
                    title=vtitle,
                    price=price_d,
                    cost=(ex_vat * D(cost_share)).quantize(CENT),
                    grams=grams,
                )
            )
        out.append(
            Product(
                product_id=8_100_000_000 + i + 1,
                title=title,
                category=cat,
                vendor="Demobutikken",
                tags=frozenset(t for t in tags.split(",") if t),
                variants=tuple(variants),
            )
        )
    return tuple(out)


PRODUCTS: tuple[Product, ...] = _products()


@dataclass(frozen=True, slots=True)
class Gateway:
    name: str  # what Shopify puts in payment_gateway_names
    pct: Decimal  # share of the amount paid
    fixed: Decimal  # NOK per payment
    share: Decimal  # how often customers pick it


# Example contract rates (see the fee table in the commerce notes); a real shop sets its own.
GATEWAYS: tuple[Gateway, ...] = (
    Gateway("vipps", D("0.025"), D("0"), D("0.45")),
    Gateway("klarna", D("0.0299"), D("3"), D("0.30")),
    Gateway("stripe", D("0.024"), D("2"), D("0.25")),
)


@dataclass(frozen=True, slots=True)
class ShippingMethod:
    code: str
    title: str
    carrier: str
    price: Decimal  # charged to the customer incl. 25 % VAT
    free_over: Decimal | None  # lines total incl. VAT above which shipping is free
    max_grams: int  # heavier parcels cannot use this method
    bands: tuple[tuple[int, Decimal], ...]  # (up to grams, cost ex VAT), ascending; example contract rates


SHIPPING_METHODS: tuple[ShippingMethod, ...] = (
    ShippingMethod(
        "posten-postkasse",
        "Posten – Pakke i postkassen",
        "Posten",
        D("49"),
        None,
        2000,
        ((1000, D("42")), (2000, D("52"))),
    ),
    ShippingMethod(
        "posten-hentested",
        "Posten – Pakke til hentested",
        "Posten",
        D("69"),
        D("799"),
        35000,
        ((2000, D("65")), (5000, D("79")), (10000, D("99")), (35000, D("149"))),
    ),
    ShippingMethod(
        "bring-hjemlevering",
        "Bring – Hjemlevering",
        "Bring",
        D("129"),
        D("1499"),
        35000,
        ((5000, D("110")), (10000, D("135")), (35000, D("175"))),
    ),
)

HANDLING_PER_ORDER = D("12")  # pick, pack and packaging, ex VAT
HANDLING_PER_UNIT = D("2")
RETURN_HANDLING_PER_LINE = D("45")  # return label and inspection, ex VAT


@dataclass(frozen=True, slots=True)
class Ad:
    ad_id: str
    name: str
    weight: Decimal


@dataclass(frozen=True, slots=True)
class AdSet:
    adset_id: str
    name: str
    ads: tuple[Ad, ...]


@dataclass(frozen=True, slots=True)
class Campaign:
    campaign_id: str
    name: str
    share: Decimal  # share of all orders that this campaign brings
    target_roas: Decimal  # revenue ex VAT / spend the generator aims the spend at
    pool: str  # which products its buyers choose: a tag, a category, or "all"
    adsets: tuple[AdSet, ...]
    # Meta-reported purchases per order the shop attributes to the campaign (the note on CAMPAIGNS)
    meta_reporting: Decimal = Decimal(1)


def _campaign(
    no: int, name: str, share: str, roas: str, pool: str, adsets: tuple[str, ...], meta: str
) -> Campaign:
    base = 120_210_000_000_000_000 + no * 1_000
    sets = []
    for i, aname in enumerate(adsets):
        ads = tuple(
            Ad(str(base + 100 + i * 10 + k), f"{name} – {aname} – annonse {k + 1}", D(w))
            for k, w in enumerate(("0.6", "0.4"))
        )
        sets.append(AdSet(str(base + 10 + i), f"{name} – {aname}", ads))
    return Campaign(str(base), name, D(share), D(roas), pool, tuple(sets), D(meta))


AD_ACCOUNT_ID = "1029384756"
# The last argument (meta_reporting): how many purchases Meta's insights report per order the shop's
# own (UTM / fbclid, last click) attribution gives the campaign. Meta counts every Pixel purchase its
# default attribution setting (7-day click or 1-day view) credits to an ad, cancelled orders included,
# and at the Pixel's value (incl. VAT): view-through heavy campaigns (video, retargeting) claim
# purchases first-party attribution gives to no campaign or another one (> 1); an audience that blocks
# tracking more often is under-reported (< 1). Example factors for the demo, not measurements.
# The seed story: Bestseller has the better ROAS and the worse POAS (< 1); Premium the opposite.
CAMPAIGNS: tuple[Campaign, ...] = (
    _campaign(1, "Bestseller", "0.22", "5.6", "bestseller", ("Bredt 18-45", "Lookalike kjøpere"), "1.15"),
    _campaign(2, "Premium", "0.12", "3.0", "premium", ("Interesser hudpleie", "Interiør"), "0.90"),
    _campaign(3, "Mote Salg", "0.12", "4.2", "fashion", ("Kvinner 20-40", "Menn 20-40"), "1.10"),
    _campaign(4, "Retargeting", "0.10", "6.5", "all", ("Handlekurv 7 dager", "Besøkende 30 dager"), "1.60"),
    _campaign(5, "Mat og Delikatesse", "0.05", "3.4", "food", ("Matglade", "Gaveidéer"), "1.00"),
    _campaign(6, "Merkevare Video", "0.04", "1.3", "all", ("Video 15 s", "Video 30 s"), "2.20"),
)
UNATTRIBUTED_SHARE = D("1") - sum((c.share for c in CAMPAIGNS), D("0"))
# The shop's fixed costs per month (name, category, NOK): the demo enters them from the first day.
FIXED_COSTS: tuple[tuple[str, str, Decimal], ...] = (
    ("Shopify og apper", "apps", D("2490")),
    ("Lønn", "salaries", D("48000")),
    ("Lagerleie", "rent", D("9500")),
)

FIRST_NAMES: tuple[str, ...] = ("Ola", "Kari", "Per", "Anne", "Lars", "Ingrid", "Ole", "Marit")
FIRST_NAMES += ("Hans", "Silje", "Nils")
FIRST_NAMES += ("Ida", "Jonas", "Emma", "Henrik", "Nora", "Magnus", "Sara", "Sindre", "Thea", "Eirik")
FIRST_NAMES += ("Hanne", "Knut", "Maja", "Tor", "Ingeborg", "Even", "Sofie", "Vegard", "Tuva")
LAST_NAMES: tuple[str, ...] = ("Nordmann", "Hansen", "Johansen", "Olsen", "Larsen", "Andersen")
LAST_NAMES += ("Pedersen", "Nilsen")
LAST_NAMES += ("Kristiansen", "Jensen", "Karlsen", "Berg", "Haugen", "Hagen", "Johannessen", "Dahl")
LAST_NAMES += ("Bakken", "Lunde", "Solberg", "Strand")
CITIES: tuple[tuple[str, str], ...] = (
    ("Oslo", "0150"),
    ("Bergen", "5003"),
    ("Trondheim", "7010"),
    ("Stavanger", "4005"),
    ("Tromsø", "9008"),
    ("Kristiansand", "4610"),
    ("Drammen", "3015"),
    ("Bodø", "8006"),
)
_WEBKIT = "AppleWebKit/605.1.15 (KHTML, like Gecko)"
_BLINK = "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0"
USER_AGENTS = (
    f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) {_WEBKIT} Mobile/15E148",
    f"Mozilla/5.0 (Linux; Android 14; Pixel 8) {_BLINK} Mobile Safari/537.36",
    f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_BLINK} Safari/537.36",
    f"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) {_WEBKIT} Version/17.5 Safari/605.1.15",
)
