"""The customer value model's defaults, apart from the model (`poas.domain.ltv`), so that commands
and settings can show them without importing numpy and scipy (half a second of every start)."""

from __future__ import annotations

DEFAULT_CREDIBILITY = 30.0  # repeat customers at which the model and the shop average weigh the same
DEFAULT_PENALIZER = 1e-4
DEFAULT_HORIZON = 365  # days a printed prediction covers
