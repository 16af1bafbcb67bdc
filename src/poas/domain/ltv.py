"""Predicted customer value: BG/NBD for how many repeat orders, Gamma-Gamma for what each is worth.

BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while alive a customer
orders as a Poisson process with rate λ ~ Gamma(r, α); after each repeat order she leaves for good
with probability p ~ Beta(a, b). Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV"): a customer's
order values are Gamma(p, ν) with ν ~ Gamma(q, γ), independent of the order process. Both are fitted
by maximum likelihood on the shop's own customers, summarised per customer as x (repeat orders),
t_x (days from first to last order), T (days from first order to the cut-off) and m (mean profit of
the repeat orders). Times are days; the predicted value is profit in the shop currency (float here:
this is a statistical estimate, turned into Decimal where it leaves the model).

Shrinkage: individual predictions already shrink toward the population (that is what the Gamma and
Beta mixing does). When the shop itself has few repeat customers the fitted population is unsure,
so predictions are a credibility blend w·model + (1−w)·shop average with w = n/(n + k), n the repeat
customers and k the `credibility` constant; the shop average is its pooled repeat-profit rate
(Σ repeat profit / Σ customer-days) times the horizon. Customers with non-positive mean repeat
profit cannot enter Gamma-Gamma (values must be positive); they are left out of that fit and
counted (`excluded_values`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from poas.domain.ltv_defaults import DEFAULT_CREDIBILITY, DEFAULT_PENALIZER

# scipy (a third of a second to import) is imported in the functions that use it, so that what only
# reads a stored model or its defaults starts quickly.
Array = NDArray[np.float64]


class LtvError(ValueError):
    """The model cannot be fitted or used (no customers, a parameter out of its domain)."""


@dataclass(frozen=True)
class Summaries:
    """One row per customer: repeat orders x, recency t_x and age T in days, mean repeat profit m."""

    x: Array
    t_x: Array
    T: Array
    m: Array
    repeat_profit: Array  # Σ profit of the repeat orders (for the shop average)

    def __post_init__(self) -> None:
        n = len(self.x)
        if any(len(a) != n for a in (self.t_x, self.T, self.m, self.repeat_profit)):
            raise LtvError("summaries: arrays of different lengths")

    def __len__(self) -> int:
        return len(self.x)


def summarize(orders: list[tuple[str, float, float]], cutoff_day: float) -> Summaries:
    """Per-customer summaries from (customer key, order day, profit), days counted from any origin.

    Only orders on or before `cutoff_day` count; a customer's first order is her birth (its profit is
    known and not part of the repeat value). Orders on the same day as an earlier one count apart.
    """
    by: dict[str, list[tuple[float, float]]] = {}
    for key, day, profit in orders:
        if day <= cutoff_day:
            by.setdefault(key, []).append((day, profit))
    xs, txs, ts, ms, rps = [], [], [], [], []
    for rows in by.values():
        rows.sort()
        first = rows[0][0]
        repeats = rows[1:]
        x = len(repeats)
        xs.append(float(x))
        txs.append(repeats[-1][0] - first if repeats else 0.0)
        ts.append(cutoff_day - first)
        total = sum(p for _, p in repeats)
        rps.append(total)
        ms.append(total / x if x else 0.0)
    return Summaries(*(np.asarray(v, dtype=np.float64) for v in (xs, txs, ts, ms, rps)))


@dataclass(frozen=True)
class BgNbd:
    """BG/NBD parameters; α in days."""

    r: float
    alpha: float
    a: float
    b: float

    def log_likelihood(self, x: Array, t_x: Array, T: Array) -> Array:
        """Each customer's log-likelihood of (x, t_x, T)."""
        return _bg_ll(np.array([self.r, self.alpha, self.a, self.b]), x, t_x, T)

    def expected_purchases(self, t: float, x: Array, t_x: Array, T: Array) -> Array:
        """E[repeat orders in (T, T+t] | x, t_x, T] (equation 10 of the paper)."""
        from scipy import special

        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        if abs(a - 1.0) < 1e-6:
            a = 1.0 + 1e-6  # removable singularity of the closed form
        z = t / (alpha + T + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1.0, z)
        first = (a + b + x - 1.0) / (a - 1.0) * (1.0 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        alive_odds = np.where(
            x > 0,
            a / np.maximum(b + x - 1.0, 1e-12) * ((alpha + T) / (alpha + t_x)) ** (r + x),
            0.0,
        )
        return np.asarray(first / (1.0 + alive_odds), dtype=np.float64)

    def p_alive(self, x: Array, t_x: Array, T: Array) -> Array:
        """P(still a customer | x, t_x, T)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        odds = np.where(
            x > 0,
            a / np.maximum(b + x - 1.0, 1e-12) * ((alpha + T) / (alpha + t_x)) ** (r + x),
            0.0,
        )
        return np.asarray(1.0 / (1.0 + odds), dtype=np.float64)

    def expected_new(self, t: float) -> float:
        """Expected repeat orders in the first t days after a first order."""
        zero = np.zeros(1)
        return float(self.expected_purchases(t, zero, zero, zero)[0])


@dataclass(frozen=True)
class GammaGamma:
    """Gamma-Gamma parameters (p: shape of one order's value, q and γ: the spread between customers)."""

    p: float
    q: float
    gamma: float

    def log_likelihood(self, x: Array, m: Array) -> Array:
        """Each customer's log-likelihood of the mean m of her x repeat orders (x > 0, m > 0)."""
        return _gg_ll(np.array([self.p, self.q, self.gamma]), x, m)

    @property
    def mean_value(self) -> float:
        """Population mean value of one order: pγ/(q−1)."""
        if self.q <= 1.0:
            raise LtvError(f"gamma-gamma: q = {self.q:.3g} ≤ 1 has no finite mean order value")
        return self.p * self.gamma / (self.q - 1.0)

    def expected_value(self, x: Array, m: Array) -> Array:
        """E[value of a future order | x orders of mean m]: a weighted mean of m and the population's."""
        if self.q <= 1.0:
            raise LtvError(f"gamma-gamma: q = {self.q:.3g} ≤ 1 has no finite mean order value")
        px = self.p * x
        w_pop = (self.q - 1.0) / (px + self.q - 1.0)
        return np.asarray(w_pop * self.mean_value + (1.0 - w_pop) * np.where(x > 0, m, 0.0))


def _bg_ll(params: Array, x: Array, t_x: Array, T: Array) -> Array:
    from scipy import special

    r, alpha, a, b = params
    base = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a1 = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + T)
    with np.errstate(invalid="ignore", divide="ignore"):
        a2 = np.where(
            x > 0,
            special.betaln(a + 1.0, np.maximum(b + x - 1.0, 1e-12))
            - special.betaln(a, b)
            - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return np.asarray(base + np.logaddexp(a1, a2), dtype=np.float64)


def _gg_ll(params: Array, x: Array, m: Array) -> Array:
    from scipy import special

    p, q, gamma = params
    px = p * x
    return np.asarray(
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + m * x),
        dtype=np.float64,
    )


@dataclass(frozen=True)
class Fit:
    """Maximum-likelihood fit of one model: the parameters and how it went."""

    params: tuple[float, ...]
    log_likelihood: float
    converged: bool
    iterations: int


def _fit(
    neg_ll: Any, start: Array, scale: Array, weights: Array, penalizer: float
) -> tuple[Array, float, bool, int]:
    """Minimise the weighted negative log-likelihood over log-parameters (all parameters > 0)."""
    from scipy import optimize

    total = float(weights.sum())

    def objective(theta: Array) -> float:
        params = np.exp(theta) * scale
        ll = neg_ll(params)
        if not np.all(np.isfinite(ll)):
            return 1e300
        return float(-(weights * ll).sum() / total + penalizer * float(np.sum(theta**2)))

    res = optimize.minimize(
        objective,
        np.log(start / scale),
        method="L-BFGS-B",
        bounds=[(-12.0, 12.0)] * len(start),
        options={"maxiter": 500},
    )
    params = np.exp(res.x) * scale
    return params, float(-res.fun * total), bool(res.success), int(res.nit)


def _compress(*columns: Array) -> tuple[list[Array], Array]:
    """Identical rows once, with their count as weight (large shops have many equal summaries)."""
    stacked = np.column_stack(columns)
    uniq, counts = np.unique(stacked, axis=0, return_counts=True)
    return [uniq[:, i] for i in range(uniq.shape[1])], counts.astype(np.float64)


def fit_bgnbd(s: Summaries, *, penalizer: float = DEFAULT_PENALIZER) -> tuple[BgNbd, Fit]:
    """BG/NBD by maximum likelihood (a tiny L2 penalty on the log-parameters keeps thin data finite)."""
    if len(s) == 0:
        raise LtvError("no customers to fit")
    (x, t_x, T), w = _compress(s.x, s.t_x, s.T)
    scale_t = max(float(np.mean(s.T)), 1.0)
    start = np.array([1.0, scale_t, 1.0, 1.0])
    scale = np.array([1.0, scale_t, 1.0, 1.0])
    params, ll, ok, nit = _fit(lambda prm: _bg_ll(prm, x, t_x, T), start, scale, w, penalizer)
    model = BgNbd(*(float(v) for v in params))
    return model, Fit(tuple(float(v) for v in params), ll, ok, nit)


def fit_gamma_gamma(s: Summaries, *, penalizer: float = DEFAULT_PENALIZER) -> tuple[GammaGamma, Fit, int]:
    """Gamma-Gamma on the repeat customers with a positive mean; also returns how many were left out."""
    keep = (s.x > 0) & (s.m > 0)
    excluded = int(np.sum((s.x > 0) & ~(s.m > 0)))
    if int(keep.sum()) < 2:
        raise LtvError("fewer than two repeat customers with a positive order profit")
    x, m = s.x[keep], s.m[keep]
    w = np.ones_like(x)
    mean_m = float(np.mean(m))
    start = np.array([1.0, 2.0, mean_m])
    scale = np.array([1.0, 1.0, mean_m])
    params, ll, ok, nit = _fit(lambda prm: _gg_ll(prm, x, m), start, scale, w, penalizer)
    model = GammaGamma(*(float(v) for v in params))
    return model, Fit(tuple(float(v) for v in params), ll, ok, nit), excluded


@dataclass(frozen=True)
class LtvModel:
    """A shop's fitted model with what its shrinkage needs; `to_dict()` / `from_dict()` store it."""

    bg: BgNbd
    gg: GammaGamma
    customers: int
    repeat_customers: int
    excluded_values: int
    shop_rate: float  # pooled repeat profit per customer-day
    credibility: float
    converged: bool

    @property
    def weight(self) -> float:
        """How much of a prediction is the model's (the rest is the shop average)."""
        n = float(self.repeat_customers)
        return n / (n + self.credibility) if n + self.credibility > 0 else 0.0

    def shop_average(self, horizon_days: float) -> float:
        return self.shop_rate * horizon_days

    def predict(self, horizon_days: float, s: Summaries) -> Array:
        """Each customer's expected repeat profit in the next `horizon_days` after her T."""
        model = self.bg.expected_purchases(horizon_days, s.x, s.t_x, s.T) * self.gg.expected_value(s.x, s.m)
        w = self.weight
        return np.asarray(w * model + (1.0 - w) * self.shop_average(horizon_days), dtype=np.float64)

    def predict_new(self, horizon_days: float) -> float:
        """Expected repeat profit in the first `horizon_days` of a customer who just ordered first."""
        model = self.bg.expected_new(horizon_days) * self.gg.mean_value
        w = self.weight
        return w * model + (1.0 - w) * self.shop_average(horizon_days)

    def predict_after_first(self, horizon_days: float, first_profit: float) -> float:
        """Expected repeat profit in the first `horizon_days` of a new customer, her first order known.

        The first order's profit informs her value the Gamma-Gamma way (one observed order of that
        value: a weighted mean with the population's); a non-positive first profit says nothing and
        leaves the population mean. This is what makes new customers' predictions differ.
        """
        one = np.ones(1)
        m = np.array([first_profit if first_profit > 0 else 0.0])
        x = one if first_profit > 0 else np.zeros(1)
        value = float(self.gg.expected_value(x, m)[0])
        model = self.bg.expected_new(horizon_days) * value
        w = self.weight
        return w * model + (1.0 - w) * self.shop_average(horizon_days)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LtvModel:
        try:
            return cls(
                bg=BgNbd(**d["bg"]),
                gg=GammaGamma(**d["gg"]),
                **{k: d[k] for k in cls.__dataclass_fields__ if k not in ("bg", "gg")},
            )
        except (KeyError, TypeError) as exc:
            raise LtvError(f"stored model unreadable: {exc}") from exc


def fit_model(
    s: Summaries, *, credibility: float = DEFAULT_CREDIBILITY, penalizer: float = DEFAULT_PENALIZER
) -> LtvModel:
    """Fit both parts on the shop's customers and keep what shrinkage needs."""
    bg, bg_fit = fit_bgnbd(s, penalizer=penalizer)
    gg, gg_fit, excluded = fit_gamma_gamma(s, penalizer=penalizer)
    days = float(np.sum(s.T))
    rate = float(np.sum(s.repeat_profit)) / days if days > 0 else 0.0
    return LtvModel(
        bg=bg,
        gg=gg,
        customers=len(s),
        repeat_customers=int(np.sum(s.x > 0)),
        excluded_values=excluded,
        shop_rate=rate,
        credibility=credibility,
        converged=bg_fit.converged and gg_fit.converged,
    )
