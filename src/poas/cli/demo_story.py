"""What `poas demo` tells about its run: the story lines (text) and the same facts as one JSON document."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from poas.cli.demo_run import DemoResult
from poas.domain.cohorts import Cohort
from poas.domain.money import exponent
from poas.domain.report_rows import Figures, report_row
from poas.services.cohorts import CohortReport, cohort_json
from poas.services.correction_log import SentCorrection
from poas.services.report import report_json, row_dict

STORY_HORIZON = 90  # days after a customer's first order the customer line looks at (issue #19)
WINDOW_DAYS = 7  # Meta takes events up to 7 days old (and the demo shop's append window is 7 days)
TRIGGERS = {
    "refund": "refunded",
    "fully_refunded": "fully refunded",
    "cancelled": "cancelled",
    "voided": "voided",
    "window_closed": "return window closed",
}


def amount(value: Decimal | None, currency: str, places: int = 2) -> str:
    """1234.5 → "1 234.50 NOK" (a minus sign, not a hyphen, before negatives)."""
    if value is None:
        return "-"
    text = f"{abs(value):,.{places}f}".replace(",", " ")
    return f"{'−' if value < 0 else ''}{text} {currency}"


def example_line(c: SentCorrection) -> str:
    told = f"profit {amount(c.told_profit, c.currency)}"
    if c.purchase_value is not None:
        told = f"value {amount(c.purchase_value, c.currency)}, {told}"
    sent = f"AppendValue sent with net_revenue {amount(c.appended, c.currency)}"
    if c.appended is not None and c.appended != c.final_profit:
        sent += " (a negative profit is sent as 0)"
    return (
        f"example: order {c.order_id} ({TRIGGERS.get(c.trigger, c.trigger)}): at purchase Meta was told "
        f"{told}; final profit {amount(c.final_profit, c.currency)}; {sent}"
    )


def _story_cohort(rep: CohortReport, h: int) -> tuple[Decimal, Cohort] | None:
    """The campaign whose customers change its POAS most at horizon `h`: (later / first, cohort)."""
    best: tuple[Decimal, Cohort] | None = None
    for c in rep.cohorts:
        lived = c.matured.get(h, 0)  # enough of its customers must have lived the horizon
        if not c.key or not c.spend_minor or lived < max(10, c.customers // 4):
            continue
        if c.first_order_profit_minor <= 0:
            continue
        later = c.ltv_cac(h)
        if later is None:
            continue
        gain = later / (Decimal(c.first_order_profit_minor) / c.spend_minor)
        if best is None or gain > best[0]:
            best = (gain, c)
    return best


def customer_line(result: DemoResult) -> str | None:
    """The campaign whose customers change its verdict most: POAS of its first orders alone against
    POAS with what its customers bought within 90 days of their first order (STORY_HORIZON), or the
    longest shorter horizon enough of them have lived when too few have lived 90 days."""
    rep = result.cohorts
    if rep is None:
        return None
    shorter = sorted((h for h in rep.horizons if h < STORY_HORIZON), reverse=True)
    for h in [STORY_HORIZON, *shorter] if STORY_HORIZON in rep.horizons else shorter:
        found = _story_cohort(rep, h)
        if found is None:
            continue
        c = found[1]
        first = Decimal(c.first_order_profit_minor) / (c.spend_minor or 1)
        later = c.ltv_cac(h) or Decimal(0)
        unit = Decimal(10) ** exponent(rep.currency)
        per = (c.per_customer_minor(h) or Decimal(0)) / unit
        cac = (c.cac_minor or Decimal(0)) / unit
        profit = (
            f"{amount(per, rep.currency)} profit per customer within {h} days of the first order (the "
            f"{c.matured.get(h, 0)} of its {c.customers} new customers who have lived {h} days) against a "
            f"CAC of {amount(cac, rep.currency)}"
        )
        if first < 1 <= later:
            return (
                f"customers, not orders: {c.name} looks weak on first-order POAS ({first:.2f}×) and is "
                f"strong on its customers: {profit} makes it POAS {later:.2f}× (poas report cohorts "
                "--by campaign)"
            )
        if later < 1 <= first:
            return (
                f"customers, not orders: {c.name} looks strong on first-order POAS ({first:.2f}×) and its "
                f"customers rarely come back: {profit} makes it POAS {later:.2f}× (poas report cohorts "
                "--by campaign)"
            )
        return (
            f"customers, not orders: {c.name} is POAS {first:.2f}× on first orders; {profit} makes it "
            f"POAS {later:.2f}× (poas report cohorts --by campaign)"
        )
    return None


def story_lines(result: DemoResult) -> list[str]:
    """The run in plain sentences, each true of this run's counts."""
    n = result.counts
    lines = [
        f"{n.get('generated_orders', 0)} orders, {n.get('generated_refunds', 0)} refunds and "
        f"{n.get('generated_cancellations', 0)} cancellations over {(result.until - result.since).days + 1} "
        f"days: {n.get('webhooks_accepted', 0) + n.get('webhooks_duplicate', 0)} signed Shopify webhooks "
        "accepted",
        f"{n.get('sandbox_Purchase', 0)} Purchase events sent to the Meta sandbox "
        f"({n.get('events_too_old', 0)} orders older than Meta's 7 days were not sent)",
    ]
    c = result.corrections
    if c is not None:
        lines.append(
            f"{n.get('sandbox_AppendValue', 0)} AppendValue corrections sent to the Meta sandbox (refunds "
            f"and cancellations of orders still inside Meta's {WINDOW_DAYS}-day window); {c.unsent} final "
            "profits kept in the ledger only (their Purchase was too old for Meta, or never sent)"
        )
        example = c.example()
        if example is not None:
            lines.append(example_line(example))
    lines.append(f"{n.get('spend_rows', 0)} spend rows synced from the sandbox's insights")
    customers = customer_line(result)
    if customers is not None:
        lines.append(customers)
    return lines


def demo_document(result: DemoResult) -> dict[str, Any]:
    """`poas demo --format json`: the run's counts, its corrections and the campaigns side by side."""
    n = result.counts
    report = report_json(result.report)
    c = result.corrections
    example = c.example() if c is not None else None
    campaigns = sum((r.figures for r in result.report.rows if r.key), Figures())
    return {
        "shop": report["shop"],
        "currency": report["currency"],
        "from": report["from"],
        "to": report["to"],
        "days": (result.until - result.since).days + 1,
        "orders": {
            "generated": n.get("generated_orders", 0),
            "refunds": n.get("generated_refunds", 0),
            "cancellations": n.get("generated_cancellations", 0),
        },
        "webhooks_accepted": n.get("webhooks_accepted", 0) + n.get("webhooks_duplicate", 0),
        "events_sent": {
            "Purchase": n.get("sandbox_Purchase", 0),
            "AppendValue": n.get("sandbox_AppendValue", 0),
            "too_old_not_sent": n.get("events_too_old", 0),
            "dead": n.get("events_dead", 0),
        },
        "append_value": {
            "queued": c.queued if c else 0,
            "sent": n.get("sandbox_AppendValue", 0),
            "ledger_only": c.unsent if c else 0,
            "unchanged": c.unchanged if c else 0,
            "example": example.as_dict() if example else None,
        },
        "spend_rows": n.get("spend_rows", 0),
        "definitions": {
            "revenue": "first-party revenue ex VAT of the orders poas attributes to the campaign",
            "profit": "gross profit; expected_profit after expected returns",
            "meta_purchases": "purchases Meta's insights report for the campaign (actions: purchase)",
            "meta_value": "their value as Meta reports it (action_values: purchase, the Pixel's value)",
            "meta_roas": "meta_value / spend: the ROAS Ads Manager shows",
            "campaigns_total": "the campaigns' sums (what Meta can report on); total: every order, "
            "attributed or not (blended)",
        },
        "campaigns": report["rows"],
        "campaigns_total": row_dict(
            "campaign", report_row("", "total (campaigns)", campaigns), report["currency"]
        ),
        "total": report["total"],
        "advice": [
            {
                "campaign": a.name,
                "campaign_id": a.key,
                "spend": float(a.spend),
                "proposed_spend": float(a.proposed_spend),
                "change_pct": None if a.change_pct is None else float(a.change_pct),
                "why": a.reason,
            }
            for a in result.advice.campaigns
        ],
        "customers": cohort_json(result.cohorts) if result.cohorts is not None else None,
        "customer_story": customer_line(result),
        "folder": str(result.folder),
    }
