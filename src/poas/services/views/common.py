"""What every read model shares: the clock and id bounds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field

DbId = Annotated[int, Field(ge=1, le=2**63 - 1)]
ZERO = Decimal(0)


def utcnow() -> datetime:
    return datetime.now(UTC)
