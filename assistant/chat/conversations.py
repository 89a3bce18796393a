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
    marked failed, their quota settled to what they used. Returns how many."""
    abandoned = Message.objects.filter(
        role=Message.Role.ASSISTANT, created_at__lt=timezone.now() - OPEN_ANSWER_WINDOW
    ).exclude(status__in=Message.FINISHED)
    closed = 0
    for message in abandoned.select_related("conversation"):
        updated = Message.objects.filter(pk=message.pk, status=message.status).update(
            status=Message.Status.FAILED, error="This answer was never finished; ask again."
        )
        if updated:
            settle_quota(message)
            closed += 1
    return closed


def settle_quota(message: Message) -> None:
    """Replace the message's reserved estimate by what its model calls really used, once: the
    guarded UPDATE lets only one of a live stream and the sweeper settle it."""
    used = LlmCall.objects.filter(message=message).aggregate(
        tokens=Sum(F("prompt_tokens") + F("completion_tokens"), default=0),
        cost=Sum("cost_usd", default=Decimal(0)),
    )
    with transaction.atomic():
        claimed = Message.objects.filter(pk=message.pk, quota_settled=False).update(
            quota_settled=True
        )
        message.quota_settled = True
        if not claimed or message.quota_day is None:
            return
        quotas.correct(
            message.conversation.owner_id,
            message.quota_day,
            tokens=used["tokens"] - message.reserved_tokens,
            cost=used["cost"] - message.reserved_cost_usd,
        )
