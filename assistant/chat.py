"""The chat's workflows: start a conversation, ask in it."""

from __future__ import annotations

from django.db import transaction

from assistant.models import Conversation, Message


def ask(
    *, conversation: Conversation, question: str, high_accuracy: bool, collections=None
) -> Message:
    """Store the question and an assistant message waiting to be answered by the stream."""
    with transaction.atomic():
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
            conversation=conversation, role=Message.Role.ASSISTANT, high_accuracy=high_accuracy
        )
