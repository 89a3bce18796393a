"""The chat's workflows: start a conversation, ask in it."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import ngettext

from assistant.accounts import language, quotas
from assistant.chat import notices
from assistant.chat.charging import record_calls, settle_quota
from assistant.chat.models import Conversation, Message
from assistant.chat.rendering import render
from assistant.chat.upgrade import reservation
from assistant.lib import notify
from assistant.lib.text import estimate_tokens
from assistant.llm.calls import call_row
from assistant.llm.models import LlmCall
from assistant.llm.providers import get_provider
from assistant.llm.usage import Usage

# An answer still "open" after this long is taken to be abandoned (its process died).
OPEN_ANSWER_WINDOW = timedelta(minutes=10)


class TooManyOpenAnswers(Exception):
    def __init__(self, limit: int):
        super().__init__(
            ngettext(
                "You already have %(limit)d answer being written. Wait for it to finish or stop "
                "it.",
                "You already have %(limit)d answers being written. Wait for one to finish or "
                "stop it.",
                limit,
            )
            % {"limit": limit}
        )


def blank_conversation(owner) -> Conversation:
    """A conversation with nothing in it yet: the owner's newest empty one, else a new one, so
    visits and "New conversation" clicks do not pile up empty conversations."""
    return Conversation.objects.owned_by(owner).empty().first() or Conversation.objects.create(
        owner=owner
    )


def ask(
    *,
    conversation: Conversation,
    question: str,
    high_accuracy: bool,
    collections=None,
    use_reviewed: bool = True,
) -> Message:
    """Store the question and an assistant message waiting to be answered by the stream.

    Reserves the question's quota first (QuotaExceeded) and refuses more open answers than the
    per-user limit (TooManyOpenAnswers); a refused question leaves nothing behind.
    """
    owner = conversation.owner
    tokens, cost = reservation(get_provider(), high_accuracy=high_accuracy)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # One question at a time per user, across processes: its open answers are counted
            # alone, and nothing comes between a question and its reply in the conversation.
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x5155, owner.pk])
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
            use_reviewed=use_reviewed,
            quota_day=day,
            reserved_tokens=tokens,
            reserved_cost_usd=cost,
            quota_settled=False,
        )


def _limit_open_answers(owner) -> None:
    limit = settings.MAX_OPEN_STREAMS_PER_USER
    if not limit:
        return
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


def close_orphan(message: Message) -> bool:
    """Close an open answer that no process writes any more, once: the text it saved stays,
    its usage is recorded (estimated from what was saved), its quota settled."""
    started = message.heartbeat_at is not None
    # Nobody may be reading (the sweeper runs in a worker): written in the owner's language.
    with translation.override(language.for_user(message.conversation.owner_id)):
        closed = Message.objects.filter(pk=message.pk, status__in=Message.OPEN).update(
            status=Message.Status.INTERRUPTED if started else Message.Status.FAILED,
            notice=str(notices.INTERRUPTED) if started else "",
            error="" if started else str(notices.NEVER_STARTED),
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
