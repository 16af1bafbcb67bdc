"""The JSON API under /api/v1: report rows, orders and their breakdown, delivery stats, costs."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["api"])
