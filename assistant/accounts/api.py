"""Your quota over the JSON API: what you have used, your limits, and what is left."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ninja import Field, Router, Schema

from assistant.accounts import quotas

router = Router(tags=["account"])


class QuotaOut(Schema):
    questions_per_day: int = Field(description="0 means no limit.")
    tokens_per_day: int
    cost_per_month_usd: float
    questions_today: int
    tokens_today: int
    cost_this_month_usd: float
    questions_left: int | None = Field(description="null when there is no limit.")
    tokens_left: int | None
    cost_left_usd: float | None
    day_resets_at: datetime
    month_resets_at: datetime


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


# The path and operation id it had under the chat's router, kept for integrators.
@router.get("/usage", response=QuotaOut, operation_id="assistant_chat_api_usage")
def quota(request):
    """What you have used today and this month, your limits, and what is left."""
    left = quotas.remaining(request.auth)
    return {
        "questions_per_day": left.limits.questions_per_day,
        "tokens_per_day": left.limits.tokens_per_day,
        "cost_per_month_usd": float(left.limits.cost_per_month_usd),
        "questions_today": left.questions_today,
        "tokens_today": left.tokens_today,
        "cost_this_month_usd": float(left.cost_this_month_usd),
        "questions_left": left.questions_left,
        "tokens_left": left.tokens_left,
        "cost_left_usd": _number(left.cost_left_usd),
        "day_resets_at": left.day_resets_at,
        "month_resets_at": left.month_resets_at,
    }
