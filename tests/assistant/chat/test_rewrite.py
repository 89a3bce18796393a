"""The search query with a model (`QUERY_REWRITE`), answered in process with the real Qwen
provider pointed at the stand-in: which questions the fast model rewrites, and what is searched."""

from __future__ import annotations

import pytest

from assistant.chat import conversations
from assistant.chat.answers import answer_fully
from assistant.chat.models import Conversation, Message
from assistant.llm.models import LlmCall
from ingest.models import Collection
from tests.support.documents import ingest_text
from tests.support.qwen_standin import Reply

GUIDE = """# Uploads

How to upload documents: open Documents, choose Upload and pick the files. Files up to 50 MB
are accepted.
"""
FIRST = "How do I upload documents?"
FOLLOW_UP = "and how large may they be?"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(django_user_model, qwen_settings) -> Conversation:
    ingest_text(Collection.objects.create(name="Guide", is_public=True), "guide.md", GUIDE)
    owner = django_user_model.objects.create_user("ann", password="pw-ann-123456")
    return Conversation.objects.create(owner=owner)


def answer(conversation: Conversation, question: str) -> Message:
    message = conversations.ask(conversation=conversation, question=question, high_accuracy=False)
    answer_fully(message, user=conversation.owner)
    message.refresh_from_db()
    assert message.status == Message.Status.SUCCEEDED
    return message


def test_with_rewriting_off_no_question_is_rewritten_and_each_is_searched_as_asked(
    conversation, settings, standin
):
    settings.QUERY_REWRITE = "off"

    first = answer(conversation, FIRST)
    follow_up = answer(conversation, FOLLOW_UP)

    assert standin.completion_requests() == []
    assert (first.standalone_question, follow_up.standalone_question) == (FIRST, FOLLOW_UP)
    assert not LlmCall.objects.filter(kind=LlmCall.Kind.REWRITE).exists()


def test_with_rewriting_follow_ups_only_a_question_after_another_is_rewritten(
    conversation, settings, standin
):
    settings.QUERY_REWRITE = "follow-ups"

    first = answer(conversation, FIRST)
    standin.script_completion(Reply(text="maximum upload file size"))
    follow_up = answer(conversation, FOLLOW_UP)

    (rewrite,) = standin.completion_requests()
    assert [m["content"] for m in rewrite["messages"] if m["role"] == "user"] == [FIRST, FOLLOW_UP]
    assert first.standalone_question == FIRST
    assert follow_up.standalone_question == "maximum upload file size"
    rewrites = LlmCall.objects.filter(kind=LlmCall.Kind.REWRITE)
    assert [call.message_id for call in rewrites] == [follow_up.pk]
