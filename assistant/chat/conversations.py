"""The chat's workflows: start a conversation, ask in it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from assistant.accounts import quotas
from assistant.chat.models import Conversation, Message
from assistant.chat.rendering import render
from assistant.lib import notify
from assistant.lib.text import estimate_tokens
from assistant.llm.models import LlmCall
from assistant.llm.prompts import Tier
from assistant.llm.providers import get_provider
from assistant.llm.usage import Usage, call_row

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
        conversation__owner=owner, role=Message.Role.ASSISTANT, status__in=Message.OPEN
    ).filter(_alive())
    if open_answers.count() >= limit:
        raise TooManyOpenAnswers(limit)


def _alive() -> Q:
    """Open answers that still have a process: a stream with a fresh heartbeat, or one waiting
    for its stream to start (within the window)."""
    now = timezone.now()
    return Q(heartbeat_at__gte=now - timedelta(seconds=settings.ANSWER_STALE_S)) | Q(
        heartbeat_at__isnull=True, created_at__gte=now - OPEN_ANSWER_WINDOW
    )


def close_abandoned_answers() -> int:
    """Answers whose process is gone (their heartbeat is stale: the web server died, or lost
    the database) are closed as interrupted with the text they had; those whose stream never
    started (past the window) as failed. Each is charged once for what it used. Returns how
    many were closed."""
    abandoned = Message.objects.filter(
        role=Message.Role.ASSISTANT, status__in=Message.OPEN
    ).exclude(_alive())
    return sum(close_orphan(message) for message in abandoned.select_related("conversation"))


INTERRUPTED = (
    "This answer was interrupted before its end (the server restarted or lost its database); "
    "here is what was written. Ask again for a complete answer."
)
NEVER_STARTED = "This answer was never started; ask again."


def close_orphan(message: Message) -> bool:
    """Close an open answer that no process writes any more, once: the text it saved stays,
    its usage is recorded (estimated from what was saved), its quota settled."""
    started = message.heartbeat_at is not None
    closed = Message.objects.filter(pk=message.pk, status__in=Message.OPEN).update(
        status=Message.Status.INTERRUPTED if started else Message.Status.FAILED,
        notice=INTERRUPTED if started else "",
        error="" if started else NEVER_STARTED,
        html=render(message.text, {}),
        stop_requested=True,
    )
    if not closed:
        return False
    if message.text or message.prompt_tokens:
        usage = Usage(
            prompt_tokens=message.prompt_tokens,
            completion_tokens=estimate_tokens(message.text),
            estimated=True,
        )
        call = call_row(
            message.conversation.owner,
            message,
            message.provider or "unknown",
            message.model or "unknown",
            usage,
            message.first_token_ms,
            None,
            outcome=LlmCall.Outcome.INTERRUPTED,
        )
        record_calls(message, [call])
    settle_quota(message)
    notify.send(notify.STOP, str(message.pk))
    notify.send(notify.DONE, str(message.pk))
    return True


def request_stop(message: Message) -> None:
    """Stop the answer wherever its stream runs: the flag for the record, the NOTIFY to wake it
    at once. An answer no process writes any more (a stale heartbeat) is closed here and now."""
    Message.objects.filter(pk=message.pk).update(stop_requested=True)
    notify.send(notify.STOP, str(message.pk))
    orphaned = Message.objects.filter(
        pk=message.pk,
        status__in=Message.OPEN,
        heartbeat_at__lt=timezone.now() - timedelta(seconds=2 * settings.ANSWER_HEARTBEAT_S + 1),
    ).first()
    if orphaned is not None:
        close_orphan(orphaned)


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
