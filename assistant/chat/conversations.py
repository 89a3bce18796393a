"""The chat's workflows: start a conversation, ask in it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from assistant.accounts import quotas
from assistant.chat.models import Conversation, Message
from assistant.lib import notify
from assistant.llm.models import LlmCall
from assistant.llm.prompts import Tier
from assistant.llm.providers import get_provider

# An answer still "open" after this long is taken to be abandoned (its process died).
OPEN_ANSWER_WINDOW = timedelta(minutes=10)


class TooManyOpenAnswers(Exception):
    def __init__(self, limit: int):
        super().__init__(
            f"You already have {limit} answers being written. Wait for one to finish or stop it."
        )


def blank_conversation(owner) -> Conversation:
    """A conversation with nothing in it yet: the owner's newest empty one, else a new one, so
    visits and "New conversation" clicks do not pile up empty conversations."""
    return Conversation.objects.owned_by(owner).empty().first() or Conversation.objects.create(
        owner=owner
    )


def ask(
    *, conversation: Conversation, question: str, high_accuracy: bool, collections=None
) -> Message:
    """Store the question and an assistant message waiting to be answered by the stream.

    Reserves the question's quota first (QuotaExceeded) and refuses more open answers than the
    per-user limit (TooManyOpenAnswers); a refused question leaves nothing behind.
    """
    owner = conversation.owner
    tokens, cost = quotas.estimate(
        get_provider().model_for(Tier.STRONG if high_accuracy else Tier.DEFAULT)
    )
    with transaction.atomic():
        day = quotas.reserve(owner, tokens=tokens, cost=cost)
        _limit_open_answers(owner)  # refusing here rolls the reservation back too
        if collections is not None:
            conversation.collections.set(collections)
        if not conversation.title:
            conversation.title = question[:80]
        conversation.save()
        Message.objects.create(
            conversation=conversation,
            role=Message.Role.USER,
            text=question,
            status=Message.Status.SUCCEEDED,
        )
        return Message.objects.create(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            high_accuracy=high_accuracy,
            quota_day=day,
            reserved_tokens=tokens,
            reserved_cost_usd=cost,
            quota_settled=False,
        )


def _limit_open_answers(owner) -> None:
    limit = settings.MAX_OPEN_STREAMS_PER_USER
    if not limit:
        return
    with connection.cursor() as cursor:  # one asker per user at a time, across processes
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x5155, owner.pk])
    open_answers = Message.objects.filter(
        conversation__owner=owner,
        role=Message.Role.ASSISTANT,
        created_at__gte=timezone.now() - OPEN_ANSWER_WINDOW,
    ).exclude(status__in=Message.FINISHED)
    if open_answers.count() >= limit:
        raise TooManyOpenAnswers(limit)


def close_abandoned_answers() -> int:
    """Answers left open past the window (their tab never streamed, or their process died):
    marked failed, their quota settled to what they used, their stream (if one still runs)
    told to stop. Returns how many."""
    abandoned = Message.objects.filter(
        role=Message.Role.ASSISTANT, created_at__lt=timezone.now() - OPEN_ANSWER_WINDOW
    ).exclude(status__in=Message.FINISHED)
    closed = 0
    for message in abandoned.select_related("conversation"):
        updated = Message.objects.filter(pk=message.pk, status__in=Message.OPEN).update(
            status=Message.Status.FAILED,
            error="This answer was never finished; ask again.",
            stop_requested=True,
        )
        if updated:
            settle_quota(message)
            notify.send(notify.STOP, str(message.pk))
            notify.send(notify.DONE, str(message.pk))
            closed += 1
    return closed


def request_stop(message: Message) -> None:
    """Stop the answer wherever its stream runs: the flag for the record, the NOTIFY to wake it
    at once."""
    Message.objects.filter(pk=message.pk).update(stop_requested=True)
    notify.send(notify.STOP, str(message.pk))


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
        used = LlmCall.objects.filter(message=message).aggregate(
            tokens=Sum(F("prompt_tokens") + F("completion_tokens"), default=0),
            cost=Sum("cost_usd", default=Decimal(0)),
        )
        quotas.correct(
            row["conversation__owner_id"],
            row["quota_day"],
            tokens=used["tokens"] - row["reserved_tokens"],
            cost=used["cost"] - row["reserved_cost_usd"],
        )


def record_calls(message: Message, calls: list[LlmCall]) -> None:
    """Store model calls made for an answer. Before its quota is settled they are summed then;
    after (the sweeper closed the answer while it still ran), each is charged as it comes."""
    if not calls:
        return
    with transaction.atomic():
        row = (
            Message.objects.select_for_update(of=("self",))
            .filter(pk=message.pk)
            .values("quota_settled", "quota_day", "conversation__owner_id")
            .first()
        )
        LlmCall.objects.bulk_create(calls)
        if row is None or not row["quota_settled"] or row["quota_day"] is None:
            return
        quotas.correct(
            row["conversation__owner_id"],
            row["quota_day"],
            tokens=sum(c.prompt_tokens + c.completion_tokens for c in calls),
            cost=sum((c.cost_usd for c in calls), Decimal(0)),
        )
