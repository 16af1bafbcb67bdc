"""Customers drawn from known BG/NBD and Gamma-Gamma parameters: the ground truth the model is tested on.

`simulate(...)` draws each customer's order rate λ ~ Gamma(r, α), drop-out probability p ~ Beta(a, b)
and value scale ν ~ Gamma(q, γ); orders arrive as a Poisson process from her first order, she leaves
after each repeat order with probability p, and every order's profit is Gamma(p_value, ν). The sample
shop and the tests use it; the seed makes it repeatable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poas.domain.ltv import BgNbd, GammaGamma


@dataclass(frozen=True)
class SimOrder:
    customer: str
    day: float
    profit: float
    first: bool


def simulate(
    bg: BgNbd,
    gg: GammaGamma,
    *,
    customers: int,
    first_day_from: float,
    first_day_to: float,
    until_day: float,
    seed: int,
    prefix: str = "c",
) -> list[SimOrder]:
    """Orders of `customers` customers whose first orders fall uniformly in [from, to), up to `until_day`."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(bg.r, 1.0 / bg.alpha, customers)
    drop = rng.beta(bg.a, bg.b, customers)
    nu = rng.gamma(gg.q, 1.0 / gg.gamma, customers)
    births = rng.uniform(first_day_from, first_day_to, customers)
    out: list[SimOrder] = []
    for i in range(customers):
        key = f"{prefix}{i:06d}"
        t = float(births[i])
        out.append(SimOrder(key, t, float(rng.gamma(gg.p, 1.0 / nu[i])), True))
        while True:
            t += float(rng.exponential(1.0 / lam[i]))
            if t > until_day:
                break
            out.append(SimOrder(key, t, float(rng.gamma(gg.p, 1.0 / nu[i])), False))
            if rng.random() < drop[i]:
                break
    return out
