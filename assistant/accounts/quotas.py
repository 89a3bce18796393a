"""Per-user quotas: questions and tokens per day, cost per month.

A question reserves an estimate with guarded UPDATEs on the user's counters (the guard is in the
WHERE clause, so two simultaneous requests can never both take the last unit, whichever web
process they reach) and settles to what the answer really used once it ends. Limits of 0 mean
no limit.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from assistant.accounts.models import QuotaCounter, QuotaOverride
from assistant.llm.usage import Usage, price

ASK_ADMIN = gettext_lazy("Ask an administrator if you need more.")


@dataclass(frozen=True)
class Limits:
    questions_per_day: int
    tokens_per_day: int
    cost_per_month_usd: Decimal


@dataclass(frozen=True)
class Remaining:
    limits: Limits
    questions_today: int
    tokens_today: int
    cost_this_month_usd: Decimal
    day_resets_at: datetime
    month_resets_at: datetime

    @property
    def questions_left(self) -> int | None:
        if not self.limits.questions_per_day:
            return None
        return max(self.limits.questions_per_day - self.questions_today, 0)

    @property
    def tokens_left(self) -> int | None:
        if not self.limits.tokens_per_day:
            return None
        return max(self.limits.tokens_per_day - self.tokens_today, 0)

    @property
    def cost_left_usd(self) -> Decimal | None:
        if not self.limits.cost_per_month_usd:
            return None
        return max(self.limits.cost_per_month_usd - self.cost_this_month_usd, Decimal(0))


class QuotaExceeded(Exception):
    """Which limit was hit, when it resets, and whom to ask: for the user and for Retry-After."""

    def __init__(self, limit: str, resets_at: datetime):
        self.limit, self.resets_at = limit, resets_at
        local = timezone.localtime(resets_at)
        when = f"{formats.date_format(local, 'DATETIME_FORMAT')} {local:%Z}"
        super().__init__(
            _("You have used your %(limit)s. It resets at %(when)s. %(ask)s")
            % {"limit": limit, "when": when, "ask": ASK_ADMIN}
        )

    @property
    def retry_after_s(self) -> int:
        return max(int((self.resets_at - timezone.now()).total_seconds()) + 1, 1)


def limits_for(user) -> Limits:
    """The user's own override, else the most generous of their groups', else the defaults."""
    defaults = {
        "questions_per_day": settings.QUOTA_QUESTIONS_PER_DAY,
        "tokens_per_day": settings.QUOTA_TOKENS_PER_DAY,
        "cost_per_month_usd": Decimal(str(settings.QUOTA_COST_PER_MONTH)),
    }
    overrides = list(
        QuotaOverride.objects.filter(Q(user=user) | Q(group__user=user)).order_by("user")
    )
    own = [o for o in overrides if o.user_id == user.pk]
    groups = [o for o in overrides if o.user_id is None]
    chosen = {}
    for name, default in defaults.items():
        mine = [getattr(o, name) for o in own if getattr(o, name) is not None]
        theirs = [getattr(o, name) for o in groups if getattr(o, name) is not None]
        if mine:
            chosen[name] = mine[0]
        elif theirs:
            chosen[name] = 0 if 0 in theirs else max(theirs)  # 0 = no limit, the most generous
        else:
            chosen[name] = default
    return Limits(**chosen)


def _periods(now: datetime) -> tuple[date, date, datetime, datetime]:
    local = timezone.localtime(now)
    today = local.date()
    month = today.replace(day=1)
    tz = local.tzinfo or UTC
    day_resets = datetime.combine(today + timedelta(days=1), time.min, tz)
    days_in_month = calendar.monthrange(month.year, month.month)[1]
    month_resets = datetime.combine(month + timedelta(days=days_in_month), time.min, tz)
    return today, month, day_resets, month_resets


def remaining(user) -> Remaining:
    today, month, day_resets, month_resets = _periods(timezone.now())
    counters = {
        c.period: c
        for c in QuotaCounter.objects.filter(
            Q(period=QuotaCounter.Period.DAY, starts=today)
            | Q(period=QuotaCounter.Period.MONTH, starts=month),
            user=user,
        )
    }
    day, month_counter = (
        counters.get(QuotaCounter.Period.DAY),
        counters.get(QuotaCounter.Period.MONTH),
    )
    return Remaining(
        limits=limits_for(user),
        questions_today=day.questions if day else 0,
        tokens_today=day.tokens if day else 0,
        cost_this_month_usd=month_counter.cost_usd if month_counter else Decimal(0),
        day_resets_at=day_resets,
        month_resets_at=month_resets,
    )


def estimate(model: str) -> tuple[int, Decimal]:
    """What one answer may use at most: the whole context budget plus `max_tokens`."""
    usage = Usage(
        prompt_tokens=settings.CONTEXT_BUDGET_TOKENS + 500,
        completion_tokens=settings.ANSWER_MAX_TOKENS,
    )
    total = usage.prompt_tokens + usage.completion_tokens
    return total, price(model, usage)


_UPSERT = """
    INSERT INTO assistant_quotacounter (user_id, period, starts, questions, tokens, cost_usd)
    VALUES (%s, %s, %s, 0, 0, 0)
    ON CONFLICT (user_id, period, starts) DO NOTHING
"""
_TAKE = """
    UPDATE assistant_quotacounter
       SET questions = questions + 1, tokens = tokens + %(tokens)s, cost_usd = cost_usd + %(cost)s
     WHERE user_id = %(user)s AND period = %(period)s AND starts = %(starts)s
       AND (%(questions_limit)s = 0 OR questions < %(questions_limit)s)
       AND (%(tokens_limit)s = 0 OR tokens < %(tokens_limit)s)
       AND (%(cost_limit)s = 0 OR cost_usd < %(cost_limit)s)
    RETURNING questions, tokens, cost_usd
"""


def reserve(user, *, tokens: int, cost: Decimal) -> date:
    """Take one question and an estimate of its tokens and cost, or raise QuotaExceeded.

    Runs inside the caller's transaction when there is one, so a refused question leaves
    nothing behind. Returns the day the reservation was counted on, for `correct` once the
    answer has ended (assistant.chat.charging).
    """
    now = timezone.now()
    today, month, day_resets, month_resets = _periods(now)
    limits = limits_for(user)
    checks = [
        (
            QuotaCounter.Period.DAY,
            today,
            limits.questions_per_day,
            limits.tokens_per_day,
            0,
            day_resets,
        ),
        (QuotaCounter.Period.MONTH, month, 0, 0, limits.cost_per_month_usd, month_resets),
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for period, starts, *_ in checks:
            cursor.execute(_UPSERT, [user.pk, period, starts])
        for period, starts, questions_limit, tokens_limit, cost_limit, resets in checks:
            cursor.execute(
                _TAKE,
                {
                    "tokens": tokens,
                    "cost": cost,
                    "user": user.pk,
                    "period": period,
                    "starts": starts,
                    "questions_limit": questions_limit,
                    "tokens_limit": tokens_limit,
                    "cost_limit": cost_limit,
                },
            )
            if cursor.fetchone() is None:
                raise QuotaExceeded(_which(user, period, starts, limits), resets)
    return today


def _which(user, period: str, starts: date, limits: Limits) -> str:
    counter = QuotaCounter.objects.get(user=user, period=period, starts=starts)
    if period == QuotaCounter.Period.MONTH:
        return _("monthly budget of $%(amount)s") % {"amount": limits.cost_per_month_usd}
    if limits.questions_per_day and counter.questions >= limits.questions_per_day:
        n = limits.questions_per_day
        return ngettext("%(n)d question for today", "%(n)d questions for today", n) % {"n": n}
    return _("%(n)s tokens for today") % {
        "n": formats.number_format(limits.tokens_per_day, force_grouping=True)
    }


def correct(user_id: int, day: date, *, tokens: int, cost: Decimal) -> None:
    """Add `tokens` and `cost` (negative to give back) to the day's and its month's counters:
    a reserved estimate replaced by what was really used."""
    for period, starts in (
        (QuotaCounter.Period.DAY, day),
        (QuotaCounter.Period.MONTH, day.replace(day=1)),
    ):
        QuotaCounter.objects.filter(user_id=user_id, period=period, starts=starts).update(
            tokens=Greatest(F("tokens") + tokens, 0),
            cost_usd=Greatest(F("cost_usd") + cost, 0),
        )
