"""The answer cache: an answer already written to the same question, from the same passages, by
the same model, after the same conversation, is given again instead of asking the model."""

from __future__ import annotations

import hashlib

from assistant.chat.models import Message
from ingest.search.retrieval import Hit


def cache_key(question: str, hits: list[Hit], model: str, history: list[dict[str, str]]) -> str:
    """Access is part of the key twice over: a user who may not read a passage never retrieves
    it, and the conversation before the question (which the model read too, and which may quote
    documents only its owner can read) must be the same word for word."""
    normalised = " ".join(question.lower().split()).rstrip("?？!. ")
    chunks = ",".join(str(h.chunk_id) for h in hits)
    earlier = hashlib.sha256(
        "\x1e".join(f"{turn['role']}\x1f{turn['content']}" for turn in history).encode()
    ).hexdigest()
    return hashlib.sha256(f"{normalised}|{chunks}|{model}|{earlier}".encode()).hexdigest()


def cached_answer(message: Message) -> Message | None:
    """The newest answer written by a model (not itself a cached copy) under the message's key."""
    return (
        Message.objects.filter(
            cache_key=message.cache_key, status=Message.Status.SUCCEEDED, cached=False
        )
        .exclude(pk=message.pk)
        .exclude(provider="extractive")
        .order_by("-pk")
        .first()
    )
