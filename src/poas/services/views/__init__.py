"""Read models shared by the JSON API and the dashboard: one builder per view, rendered twice.

A page and its API endpoint render the same pydantic model, so they can never disagree. Money
travels as decimal strings; timestamps are aware UTC. Each builder takes the engine and opens its
own connection (or transaction, for the writes).
"""

from poas.services.consent import ConsentSummary, consent_summaries
from poas.services.views.common import DbId, utcnow
from poas.services.views.costs import (
    CostLine,
    CostsView,
    MissingCostLine,
    MissingCostsView,
    RuleGapsView,
    RulesInfo,
    UploadError,
    UploadResult,
    costs_view,
    missing_costs_view,
    rule_gaps_view,
    upload_costs,
)
from poas.services.views.delivery import (
    MATCH_ALERT_BELOW,
    MATCH_WINDOW,
    DeadEvent,
    DeliveryPixel,
    DeliveryView,
    delivery_view,
    purchase_match_query,
    replay_dead,
)
from poas.services.views.orders import (
    EventView,
    OrderDetail,
    OrderFilters,
    OrderLineView,
    OrderPage,
    OrderSummary,
    SnapshotView,
    WaterfallStep,
    campaign_choices,
    local_day_bounds,
    order_detail,
    order_page,
    waterfall,
)
from poas.services.views.reports import SORT_KEYS, AdviceLine, AdviceView, ReportLine, ReportView, report_view

__all__ = [
    "MATCH_ALERT_BELOW",
    "MATCH_WINDOW",
    "SORT_KEYS",
    "AdviceLine",
    "AdviceView",
    "ConsentSummary",
    "CostLine",
    "CostsView",
    "DbId",
    "DeadEvent",
    "DeliveryPixel",
    "DeliveryView",
    "EventView",
    "MissingCostLine",
    "MissingCostsView",
    "OrderDetail",
    "OrderFilters",
    "OrderLineView",
    "OrderPage",
    "OrderSummary",
    "ReportLine",
    "ReportView",
    "RuleGapsView",
    "RulesInfo",
    "SnapshotView",
    "UploadError",
    "UploadResult",
    "WaterfallStep",
    "campaign_choices",
    "consent_summaries",
    "costs_view",
    "delivery_view",
    "local_day_bounds",
    "missing_costs_view",
    "order_detail",
    "order_page",
    "purchase_match_query",
    "replay_dead",
    "report_view",
    "rule_gaps_view",
    "upload_costs",
    "utcnow",
    "waterfall",
]
