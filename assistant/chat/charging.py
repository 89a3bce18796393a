"""Charging an answer to its asker's quota: the estimate reserved when the question was asked is
replaced, exactly once, by what the answer's model calls really used.

Every function here locks the answer's row first, so a live stream and the sweeper closing the
same answer count each call exactly once, whichever comes first.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import F, Sum

from assistant.accounts import quotas
from assistant.chat.models import Message
from assistant.llm.models import LlmCall


def settle_quota(message: Message) -> None:
    """Replace the message's reserved estimate by what its model calls really used, once.

    The message's row is locked while its calls are summed, and `record_calls` takes the same
    lock: a call is either in the sum or recorded after it, and then charged on its own. So a
    live stream and the sweeper settling the same answer count every call exactly once."""
    with transaction.atomic():
        row = (
            Message.objects.select_for_update(of=("self",))
            .filter(pk=message.pk, quota_settled=False)
            .values("quota_day", "reserved_tokens", "reserved_cost_usd", "conversation__owner_id")
            .first()
        )
        message.quota_settled = True
        if row is None:
            return
        Message.objects.filter(pk=message.pk).update(quota_settled=True)
        if row["quota_day"] is None:
            return
        used = _spent(LlmCall.objects.filter(message=message))
        quotas.correct(
            row["conversation__owner_id"],
            row["quota_day"],
            tokens=used["tokens"] - row["reserved_tokens"],
            cost=used["cost"] - row["reserved_cost_usd"],
        )


def _locked_for_charging(message: Message) -> dict | None:
    """The message's quota state, its row locked until the transaction ends."""
    return (
        Message.objects.select_for_update(of=("self",))
        .filter(pk=message.pk)
        .values("quota_settled", "quota_day", "conversation__owner_id")
        .first()
    )


def _spent(calls) -> dict:
    return calls.aggregate(
        tokens=Sum(F("prompt_tokens") + F("completion_tokens"), default=0),
        cost=Sum("cost_usd", default=Decimal(0)),
    )


def replace_estimate(message: Message) -> None:
    """A stream that outlived the sweeper's verdict brings the real usage: the estimate the
    sweeper recorded (and charged) for it goes, so each call is charged exactly once."""
    with transaction.atomic():
        row = _locked_for_charging(message)
        estimates = LlmCall.objects.filter(message=message, outcome=LlmCall.Outcome.INTERRUPTED)
        charged = _spent(estimates)
        if not estimates.delete()[0] or row is None:
            return
        if row["quota_settled"] and row["quota_day"] is not None:
            quotas.correct(
                row["conversation__owner_id"],
                row["quota_day"],
                tokens=-charged["tokens"],
                cost=-charged["cost"],
            )


def record_calls(message: Message, calls: list[LlmCall]) -> None:
    """Store model calls made for an answer. Before its quota is settled they are summed then;
    after (the sweeper closed the answer while it still ran), each is charged as it comes."""
    if not calls:
        return
    with transaction.atomic():
        row = _locked_for_charging(message)
        LlmCall.objects.bulk_create(calls)
        if row is None or not row["quota_settled"] or row["quota_day"] is None:
            return
        quotas.correct(
            row["conversation__owner_id"],
            row["quota_day"],
            tokens=sum(c.prompt_tokens + c.completion_tokens for c in calls),
            cost=sum((c.cost_usd for c in calls), Decimal(0)),
        )
