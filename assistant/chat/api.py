"""The chat over the JSON API: ask (streamed or not), conversations, messages, feedback."""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import partial

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status

from assistant.chat import conversations
from assistant.chat.answers import answer_events, drain
from assistant.chat.events import Event, Kind, merge_deltas
from assistant.chat.models import Conversation, Feedback, Message
from assistant.lib import sse
from assistant.lib.api import Text, Words
from ingest.models import Collection

router = Router(tags=["chat"])


class AskIn(Schema):
    question: Words = Field(min_length=1, max_length=settings.QUESTION_MAX_CHARS)
    collection_ids: list[int] | None = Field(
        None,
        max_length=settings.MAX_COLLECTION_IDS,
        description="Search only these collections; default: every one you may read.",
    )
    conversation_id: int | None = Field(
        None, description="Ask a follow-up in this conversation; default: a new conversation."
    )
    stream: bool = Field(False, description="Answer as text/event-stream (see below).")
    high_accuracy: bool = Field(False, description="Use the strong model tier.")
    use_reviewed_answers: bool = Field(
        True,
        description="Answer from a reviewed answer when one means the same; false: ask the "
        "documents instead.",
    )


_FIRST_NUMBER = re.compile(r"\d+")


class CitationOut(Schema):
    n: int
    document_id: int | None
    title: str
    source_path: str
    chunk_id: int | None
    page: int | None
    heading_path: str
    quote: str

    @staticmethod
    def resolve_page(citation) -> int | None:
        first = _FIRST_NUMBER.search(citation.pages)
        return int(first.group()) if first else None


class UsageOut(Schema):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float

    @staticmethod
    def resolve_total_tokens(message) -> int:
        return message.prompt_tokens + message.completion_tokens


class AnswerOut(Schema):
    message_id: int
    conversation_id: int
    status: str
    answer: str
    citations: list[CitationOut]
    usage: UsageOut
    provider: str
    model: str
    cached: bool
    upgraded: bool = Field(description="Answered again by the strong model after a doubtful draft.")
    reviewed_answer_id: int | None = Field(
        None, description="Served from this reviewed answer (no model call)."
    )
    content_gap: bool
    notice: str
    error: str
    first_token_ms: int | None
    total_ms: int | None
    created_at: datetime

    @staticmethod
    def resolve_message_id(message) -> int:
        return message.pk

    @staticmethod
    def resolve_answer(message) -> str:
        return message.text

    @staticmethod
    def resolve_citations(message) -> list:
        return [c for c in message.citations.all() if c.used]

    @staticmethod
    def resolve_usage(message):
        return message


def answer_json(message: Message) -> dict:
    """The answer as integrators get it, from the non-streamed call and the `done` event."""
    return AnswerOut.from_orm(message).model_dump(mode="json")


def _conversation_for(user, body: AskIn) -> tuple[Conversation, list[Collection] | None]:
    collections = None
    if body.collection_ids is not None:
        readable = Collection.objects.readable_by(user).filter(pk__in=body.collection_ids)
        collections = list(readable)
        if len(collections) != len(set(body.collection_ids)):
            # Unreadable and missing look the same: nothing says which exists.
            raise Http404
    if body.conversation_id is None:
        return Conversation.objects.create(owner=user), collections
    conversation = get_object_or_404(Conversation.objects.owned_by(user), pk=body.conversation_id)
    return conversation, collections


@router.post(
    "/ask",
    response=AnswerOut,
    summary="Ask a question",
    openapi_extra={
        "responses": {
            200: {
                "description": "The answer as JSON; with `stream: true`, `text/event-stream`: "
                '`status` events ({"status", "message_id"}), `delta` events ({"text"}) and '
                "one final `done` event whose data is this same JSON. A `status` event `upgrading` "
                "means the draft was doubtful and the strong model answers again: the text "
                "starts over with the deltas after it.",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            429: {"description": "Over quota or too many open answers; see Retry-After."},
        }
    },
)
async def ask(request, body: AskIn):
    """Retrieve from the collections you may read and answer with numbered citations.

    Counts against your quota: one question, and its tokens once it ends. Stop an answer being
    written with `POST /messages/{message_id}/stop` (its id is in the first `status` event)."""
    user = request.auth
    message = await sync_to_async(_asked)(user, body)
    if body.stream:
        return sse.response(
            answer_events(message, user=user), partial(_render, message_id=message.pk), merge_deltas
        )
    await drain(message, user=user)
    return await sync_to_async(_answer)(user, message.pk)


def _asked(user, body: AskIn) -> Message:
    conversation, collections = _conversation_for(user, body)
    message = conversations.ask(
        conversation=conversation,
        question=body.question.strip(),
        high_accuracy=body.high_accuracy,
        collections=collections,
        use_reviewed=body.use_reviewed_answers,
    )
    message.conversation = conversation
    return message


async def _render(item: Event, *, message_id: int) -> str:
    if item.kind == Kind.DELTA:
        return sse.event("delta", json.dumps({"text": item.data}, ensure_ascii=False))
    if item.kind == Kind.STATUS:
        status = {"status": str(item.data), "message_id": message_id}
        return sse.event("status", json.dumps(status))
    # The message is the asker's own: its ownership was checked before it streamed.
    done = await sync_to_async(_stored_answer_json)(item.data.pk)
    return sse.event("done", json.dumps(done, default=str, ensure_ascii=False))


def _stored_answer_json(message_id: int) -> dict:
    return answer_json(Message.objects.prefetch_related("citations").get(pk=message_id))


class ConversationOut(Schema):
    id: int
    title: str
    collection_ids: list[int]
    created_at: datetime
    updated_at: datetime


class MessageOut(Schema):
    id: int
    role: str
    status: str
    text: str
    created_at: datetime


class ConversationDetailOut(ConversationOut):
    messages: list[MessageOut]


def _conversation_json(conversation: Conversation, *, messages: bool = False) -> dict:
    data = {
        "id": conversation.pk,
        "title": conversation.title,
        "collection_ids": [c.pk for c in conversation.collections.all()],
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
    }
    if messages:
        data["messages"] = list(conversation.messages.all())
    return data


class PageIn(Schema):
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000)


@router.get("/conversations", response=list[ConversationOut])
def list_conversations(request, page: Query[PageIn]):
    """Your conversations, most recent first."""
    owned = Conversation.objects.owned_by(request.auth).prefetch_related("collections")
    return [_conversation_json(c) for c in owned[page.offset : page.offset + page.limit]]


@router.get("/conversations/{conversation_id}", response=ConversationDetailOut)
def get_conversation(request, conversation_id: int):
    """One of your conversations with its messages."""
    owned = Conversation.objects.owned_by(request.auth)
    return _conversation_json(get_object_or_404(owned, pk=conversation_id), messages=True)


@router.delete("/conversations/{conversation_id}", response={204: None})
def delete_conversation(request, conversation_id: int):
    """Delete one of your conversations and its messages."""
    get_object_or_404(Conversation.objects.owned_by(request.auth), pk=conversation_id).delete()
    return Status(204, None)


def _answer(user, message_id: int) -> Message:
    return get_object_or_404(
        Message.objects.answers_of(user).prefetch_related("citations"), pk=message_id
    )


class StopOut(Schema):
    message_id: int
    status: str = Field(description="The answer's status when Stop was taken.")


@router.post("/messages/{message_id}/stop", response={202: StopOut})
def stop(request, message_id: int):
    """Stop one of your answers being written, wherever it streams: it ends `cancelled` with the
    text written so far (GET it, or read the stream's `done` event). Stopping a finished answer
    changes nothing."""
    message = _answer(request.auth, message_id)
    if not message.is_finished:
        conversations.request_stop(message)
    return Status(202, {"message_id": message.pk, "status": message.status})


@router.get("/messages/{message_id}", response=AnswerOut)
def get_message(request, message_id: int):
    """One of your answers, with its citations and usage."""
    return _answer(request.auth, message_id)


class FeedbackIn(Schema):
    helpful: bool
    comment: Text = Field("", max_length=2000)


class FeedbackOut(Schema):
    message_id: int
    helpful: bool
    comment: str


@router.post("/messages/{message_id}/feedback", response=FeedbackOut)
def rate(request, message_id: int, body: FeedbackIn):
    """Thumbs up or down on one of your answers, with an optional comment (replaces your last)."""
    message = _answer(request.auth, message_id)
    Feedback.objects.update_or_create(
        message=message,
        user=request.auth,
        defaults={"helpful": body.helpful, "comment": body.comment.strip()},
    )
    return {"message_id": message.pk, "helpful": body.helpful, "comment": body.comment.strip()}
