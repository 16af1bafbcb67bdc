"""Health checks for `poas doctor`: database, migrations, sessions, login throttle, shops, pixels, tokens,
Graph."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import httpx
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from poas.domain.consent import describe_source
from poas.services.consent import ConsentSummary, consent_summaries
from poas.services.login_attempts import configured_policy, duration_text
from poas.services.missing_costs import DEFAULT_DAYS, unknown_profit
from poas.services.reconcile import RECONCILE, connected, reconcile_counts
from poas.services.rule_coverage import gap_summary, returns_summary, rule_gaps
from poas.services.settings_sources import effective_with_sources
from poas.services.sync_status import describe, iso, last_row, silent_syncs, span_text
from poas.settings import Settings, ShopConfig
from poas.store.db import alembic_config, make_engine, normalize_url

_PIXEL = re.compile(r"^\d{6,20}$")
_AD_ACCOUNT = re.compile(r"^(act_)?\d{3,20}$")
# More wrong passwords than this per window hardly slows a guesser down: the throttle is as good as off.
LOGIN_FAILURES_WARN_ABOVE = 100


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    level: Level
    detail: str
    fix: str = ""


def check_database(settings: Settings) -> list[Check]:
    from alembic.runtime.migration import MigrationContext  # alembic only when the doctor runs
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    url = settings.resolved_database_url()
    where = url.split("@")[-1]
    try:
        engine = make_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = MigrationContext.configure(conn).get_current_revision()
        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        engine.dispose()
    except (SQLAlchemyError, OSError, CommandError, KeyError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [
            Check(
                "database",
                Level.FAIL,
                f"cannot connect to {where}: {first}",
                "check POAS_DATABASE_URL (postgresql://user@host/db) or POAS_HOME, and that the server runs",
            )
        ]
    checks = [Check("database", Level.OK, f"connected to {where}")]
    if current == head:
        checks.append(Check("migrations", Level.OK, f"at head {head}"))
    else:
        checks.append(
            Check(
                "migrations",
                Level.FAIL,
                f"database at {current or 'empty'}, code expects {head}",
                "run `poas db upgrade`",
            )
        )
    return checks


def check_sessions(settings: Settings) -> Check:
    """PostgreSQL means several web processes may serve the site: they must share the cookie secret."""
    if settings.session_secret is not None:
        return Check("sessions", Level.OK, "POAS_SESSION_SECRET is set: every web process accepts the cookie")
    if normalize_url(settings.resolved_database_url()).startswith("postgresql"):
        return Check(
            "sessions",
            Level.WARN,
            "PostgreSQL store without POAS_SESSION_SECRET: each `poas web` started separately signs "
            "sessions with its own random key, so a login on one is refused by the others (and all "
            "end on restart)",
            "set POAS_SESSION_SECRET to the same long random value for every web process, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`",
        )
    return Check(
        "sessions", Level.OK, "no POAS_SESSION_SECRET: one web process signs its own (logins end on restart)"
    )


def check_login(settings: Settings) -> Check:
    """The login throttle is on, and not so loose that it no longer slows a password guesser."""
    policy = configured_policy(settings)
    if settings.login_max_failures > LOGIN_FAILURES_WARN_ABOVE:
        return Check(
            "login",
            Level.WARN,
            f"{policy.describe()}: throttling is effectively off, a guesser gets that many tries "
            "per window from every address",
            f"lower POAS_LOGIN_MAX_FAILURES (default 10); even an office of users behind one address "
            f"rarely needs more than {LOGIN_FAILURES_WARN_ABOVE}",
        )
    return Check("login", Level.OK, f"throttled at {policy.describe()}")


def check_shop(shop: ShopConfig) -> list[Check]:
    name = f"shop {shop.id}"
    checks: list[Check] = []
    if shop.platform in ("shopify", "woocommerce") and not shop.webhook_secrets:
        checks.append(
            Check(
                name,
                Level.FAIL,
                f"{shop.platform} shop without a webhook secret: every webhook would be refused (401)",
                f"set webhook_secrets in the config or POAS_SHOP_{_env_id(shop)}_WEBHOOK_SECRETS",
            )
        )
    if not shop.pixel_id:
        checks.append(
            Check(
                name,
                Level.WARN,
                "no pixel_id: profit is computed but nothing is sent to Meta",
                "set pixel_id",
            )
        )
    elif not _PIXEL.match(shop.pixel_id):
        checks.append(
            Check(
                name,
                Level.FAIL,
                f"pixel_id {shop.pixel_id!r} is not a numeric dataset id",
                "copy it from Events Manager",
            )
        )
    if shop.pixel_id and shop.access_token is None:
        checks.append(
            Check(
                name,
                Level.FAIL,
                "pixel configured without an access token",
                f"set POAS_SHOP_{_env_id(shop)}_ACCESS_TOKEN or access_token_file",
            )
        )
    elif shop.access_token is not None:
        token = shop.access_token.get_secret_value()
        if len(token) < 20 or any(c.isspace() for c in token):
            checks.append(
                Check(
                    name,
                    Level.FAIL,
                    "access token looks malformed (too short or contains spaces)",
                    "paste it again",
                )
            )
        elif not token.startswith("EAA"):
            checks.append(
                Check(
                    name,
                    Level.WARN,
                    "access token does not start with EAA (fine for the sandbox, not for Meta)",
                )
            )
    if shop.ad_account_id and not _AD_ACCOUNT.match(shop.ad_account_id):
        checks.append(
            Check(
                name, Level.FAIL, f"ad_account_id {shop.ad_account_id!r} is not act_<digits>", "use act_123…"
            )
        )
    if shop.events.test_event_code:
        checks.append(
            Check(name, Level.WARN, "test_event_code is set: events go to Test Events, not to optimization")
        )
    if not checks:
        checks.append(Check(name, Level.OK, f"{shop.platform}, {shop.currency}, pixel {shop.pixel_id}"))
    return checks


def check_missing_costs(settings: Settings, now: datetime | None = None) -> list[Check]:
    """A shop with orders without cost (and no fallback margin) in the last 30 days: profit unknown."""
    now = now or datetime.now(UTC)
    engine = make_engine(settings.resolved_database_url())
    checks: list[Check] = []
    try:
        for shop in settings.shops:
            found = unknown_profit(engine, shop, now=now, days=DEFAULT_DAYS)
            if not found.orders:
                continue
            checks.append(
                Check(
                    f"costs {shop.id}",
                    Level.WARN,
                    f"{found.orders} order(s) of the last {DEFAULT_DAYS} days "
                    f"({found.revenue_ex_vat} {found.currency} revenue) have lines with no cost and no "
                    "fallback margin: their profit is unknown, left out of profit, POAS and margin, "
                    "and not sent to Meta",
                    f"`poas costs missing --shop {shop.id}` lists the SKUs; import their costs "
                    "(`poas import costs FILE`) or set default_margin",
                )
            )
    finally:
        engine.dispose()
    return checks


def check_cost_rules(settings: Settings, now: datetime | None = None) -> list[Check]:
    """A shop whose recent orders' payment fees or shipping costs no cost rule prices (their profit
    counts those costs as 0), or that gets refunds with no return rate set (its expected profit
    assumes none): `poas.services.rule_coverage`."""
    now = now or datetime.now(UTC)
    engine = make_engine(settings.resolved_database_url())
    checks: list[Check] = []
    try:
        for shop in settings.shops:
            gaps = rule_gaps(engine, shop, now=now)
            fee, ship = gap_summary(gaps)
            returned = returns_summary(gaps)
            load = (
                f"`poas rules --example > rules.toml`, edit, `poas rules --load rules.toml --shop {shop.id}`"
            )
            if fee:
                fix = f"price each gateway in a [[payment_fees]] rule (percent, fixed): {load}"
                checks.append(Check(f"fees {shop.id}", Level.WARN, fee, fix))
            if ship:
                fix = f"price what the carrier charges in [[shipping]] rules (method, zone, weight): {load}"
                checks.append(Check(f"shipping {shop.id}", Level.WARN, ship, fix))
            if returned:
                fix = (
                    f"`poas returns fit --shop {shop.id}` learns return rates from the refunds, "
                    "or set a [returns] rate in the cost rules"
                )
                checks.append(Check(f"returns {shop.id}", Level.WARN, returned, fix))
    finally:
        engine.dispose()
    return checks


def check_syncs(settings: Settings, now: datetime | None = None) -> list[Check]:
    """Recurring syncs (ad spend per shop, exchange rates) without a success for longer than allowed:
    the same condition the alerts announce (docs/alerts.md). A sync nothing has tried or looked for
    yet is not named: its clock starts at its first attempt or the worker's first alert check."""
    now = now or datetime.now(UTC)
    engine = make_engine(settings.resolved_database_url())
    try:
        silent = silent_syncs(engine, settings, now=now)
    finally:
        engine.dispose()
    return [
        Check(
            f"{s.kind.kind} sync {s.shop_id}".rstrip(),
            Level.WARN,
            f"the {s.name} has not succeeded for {span_text(now - s.silent_since)} "
            f"(allowed: {duration_text(s.limit)}). " + " ".join(describe(s)),
            s.kind.action(s.shop_id),
        )
        for s in silent
    ]


def check_reconcile(settings: Settings, now: datetime | None = None) -> list[Check]:
    """The last order reconciliation of each connected shop (`poas worker`): when, orders checked and
    missed (webhooks the platform never delivered, caught up since)."""
    now = now or datetime.now(UTC)
    engine = make_engine(settings.resolved_database_url())
    try:
        counts = {c.shop_id: c for c in reconcile_counts(engine)}
        rows = {s.id: last_row(engine, RECONCILE, s.id) for s in settings.shops if connected(s)}
    finally:
        engine.dispose()
    checks = []
    for shop_id, row in rows.items():
        c = counts.get(shop_id)
        if c is None or c.last_success_at is None:
            text = "no reconciliation has succeeded yet (`poas worker` runs one every "
            text += f"{duration_text(timedelta(seconds=settings.reconcile_every_s))})"
        else:
            text = (
                f"last reconciliation {iso(c.last_success_at)} ({span_text(now - c.last_success_at)} ago): "
                f"{c.last_checked or 0} orders checked, {c.last_missed or 0} missed by webhooks "
                f"({c.missed_total} missed in all)"
            )
        failed = (
            row is not None and row.last_failure_at is not None and row.last_failure_at == row.last_attempt_at
        )
        if failed and row is not None:
            text += f"; the last attempt ({iso(row.last_attempt_at)}) failed: {row.last_error}"
        checks.append(
            Check(
                f"reconcile {shop_id}",
                Level.WARN if failed else Level.OK,
                text,
                f"`poas sync {shop_id}` by hand shows the platform's error" if failed else "",
            )
        )
    return checks


def check_graph(settings: Settings, client: httpx.Client | None = None) -> Check:
    url = settings.graph_base_url
    own = client is None
    client = client or httpx.Client(timeout=5.0)
    try:
        resp = client.get(f"{url}/{settings.graph_version}/me")
    except httpx.HTTPError as exc:
        return Check(
            "graph",
            Level.FAIL,
            f"{url} unreachable: {type(exc).__name__}",
            "check the network / proxy, or POAS_GRAPH_BASE_URL (the sandbox URL in tests)",
        )
    finally:
        if own:
            client.close()
    # Without a token Meta answers 400 with an OAuth error: that still proves the API is reachable.
    return Check("graph", Level.OK, f"{url} answered HTTP {resp.status_code}")


def run_checks(settings: Settings, *, graph: bool = True, now: datetime | None = None) -> list[Check]:
    """Every check, on the settings as the web and the worker use them: with the shop settings changed
    in the dashboard (when the store answers), each such value named in a `settings <shop>` check."""
    checks = check_database(settings)
    store_ok = all(c.level is Level.OK for c in checks)  # connected and at head
    if store_ok:
        settings, overridden = _with_dashboard_changes(settings)
        checks.extend(overridden)
    checks.append(check_sessions(settings))
    checks.append(check_login(settings))
    if not settings.shops:
        checks.append(
            Check(
                "shops",
                Level.WARN,
                f"no shops configured in {settings.config_path()}",
                "run `poas init` (it writes a first shop there; `poas init --example` shows every setting)",
            )
        )
    for shop in settings.shops:
        checks.extend(check_shop(shop))
    if store_ok:
        checks.extend(check_missing_costs(settings, now))
        checks.extend(check_cost_rules(settings, now))
        checks.extend(check_syncs(settings, now))
        checks.extend(check_reconcile(settings, now))
        checks.extend(check_predicted_ltv(settings, now))
    checks.extend(check_consent(settings))
    if graph and any(s.pixel_id for s in settings.shops):
        checks.append(check_graph(settings))
    return checks


def _with_dashboard_changes(settings: Settings) -> tuple[Settings, list[Check]]:
    engine = make_engine(settings.resolved_database_url())
    try:
        effective, sources = effective_with_sources(settings, engine)
    finally:
        engine.dispose()
    checks = []
    for shop_id, found in sources.items():
        if found.from_dashboard:
            checks.append(
                Check(
                    f"settings {shop_id}",
                    Level.OK,
                    "changed in the dashboard (used by every process, checked below): "
                    + ", ".join(s.text for s in found.from_dashboard),
                    "",
                )
            )
        if found.ignored:
            checks.append(
                Check(
                    f"settings {shop_id}",
                    Level.WARN,
                    "dashboard changes ignored, as poas.toml now makes them invalid: "
                    + ", ".join(s.text for s in found.ignored),
                    "set them again on the dashboard's Settings page, or back to the file's value",
                )
            )
    return effective, checks


def check_predicted_ltv(settings: Settings, now: datetime | None = None) -> list[Check]:
    """Shops sending predicted_ltv: Meta's pLTV requirements, each met or not (WARN names which)."""
    from poas.services.new_customer_value import PLTV_GUIDE, pltv_requirements

    shops = [s for s in settings.shops if s.customer_value.predicted_ltv]
    if not shops:
        return []
    now = now or datetime.now(UTC)
    engine = make_engine(settings.resolved_database_url())
    checks: list[Check] = []
    try:
        for shop in shops:
            reqs = pltv_requirements(engine, shop, now=now)
            missing = [r for r in reqs if not r.met]
            detail = "; ".join(f"{'ok' if r.met else 'NOT MET'} {r.name}: {r.detail}" for r in reqs)
            checks.append(
                Check(
                    f"pLTV {shop.id}",
                    Level.WARN if missing else Level.OK,
                    detail,
                    f"Meta's requirements: {PLTV_GUIDE}" if missing else "",
                )
            )
    finally:
        engine.dispose()
    return checks


def check_consent(settings: Settings, *, now: datetime | None = None) -> list[Check]:
    """Per shop: where ads consent comes from and the share of last week's orders with a signal."""
    if not settings.shops:
        return []
    try:
        engine = make_engine(settings.resolved_database_url())
        try:
            found = consent_summaries(engine, settings.shops, now=now or datetime.now(UTC))
        finally:
            engine.dispose()
        summaries: dict[str, ConsentSummary] = {s.shop_id: s for s in found}
    except (SQLAlchemyError, OSError):
        summaries = {}  # the database check says why
    checks = []
    for shop in settings.shops:
        s = summaries.get(shop.id)
        share = s.share_text if s else "order counts unavailable (database not ready)"
        detail = f"ads consent from {describe_source(shop)}; {share}"
        if s and s.orders and not s.with_signal and s.default == "denied":
            checks.append(
                Check(
                    f"shop {shop.id}",
                    Level.WARN,
                    detail + ": the default denies them all, nothing is sent to Meta",
                    "have the consent banner write a consent attribute (docs/configuration.md, Ads consent) "
                    "or review consent_default",
                )
            )
        else:
            checks.append(Check(f"shop {shop.id}", Level.OK, detail))
    return checks


def _env_id(shop: ShopConfig) -> str:
    return shop.id.upper().replace("-", "_").replace(".", "_")
