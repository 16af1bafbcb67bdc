"""The spend syncs' and spend imports' errors (Meta and Google alike)."""

from __future__ import annotations


class SpendError(ValueError):
    """Spend could not be read: the shop lacks what a sync needs, the ads API refused the request,
    or the file is not a readable export. The message says which (never the token)."""


class SpendConfigError(SpendError):
    """The shop lacks what a spend sync needs (ad account, token)."""
