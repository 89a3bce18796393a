"""What a question must be before it is taken (and charged), on the web form and the API."""

from __future__ import annotations

import pytest

from assistant.accounts.models import QuotaCounter
from assistant.chat.models import Conversation, Message
from ingest.models import Collection
from tests.assistant.chat.test_api import api, token_for

INVISIBLE = ["\u200b\u200b", "\ufeff", "\u00ad", "\u202e", "\x07\x08", " \u3164 \u2800 "]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ann(django_user_model):
    return django_user_model.objects.create_user("ann", password="pw-ann-123456")


def charged(user) -> int:
    counter = QuotaCounter.objects.filter(user=user, period="day").first()
    return counter.questions if counter else 0


@pytest.mark.parametrize("question", INVISIBLE)
def test_a_question_with_nothing_visible_is_refused_on_the_web_and_not_charged(
    client, ann, question
):
    client.force_login(ann)
    conversation = Conversation.objects.create(owner=ann)

    refused = client.post(f"/chat/{conversation.pk}/ask", {"question": question})

    assert refused.status_code == 400
    assert "Please write a question." in refused.content.decode()
    assert not Message.objects.filter(conversation=conversation).exists()
    assert charged(ann) == 0


@pytest.mark.parametrize("question", INVISIBLE)
def test_a_question_with_nothing_visible_is_refused_by_the_api_and_not_charged(
    live_server_url, ann, question
):
    refused = api(live_server_url, token_for("ann")).post("/ask", json={"question": question})

    assert refused.status_code == 422
    assert "blank" in refused.json()["error"]["message"]
    assert not Message.objects.filter(conversation__owner=ann).exists()
    assert charged(ann) == 0


def test_asking_in_a_collection_you_cannot_read_says_so(client, ann):
    hidden = Collection.objects.create(name="Board minutes")
    client.force_login(ann)
    conversation = Conversation.objects.create(owner=ann)

    refused = client.post(
        f"/chat/{conversation.pk}/ask", {"question": "Who resigned?", "collections": [hidden.pk]}
    )

    assert refused.status_code == 400
    page = refused.content.decode()
    assert "does not exist or is not yours to read" in page
    assert "characters" not in page
    assert charged(ann) == 0


def test_a_too_long_question_names_the_limit(client, ann):
    client.force_login(ann)
    conversation = Conversation.objects.create(owner=ann)

    refused = client.post(f"/chat/{conversation.pk}/ask", {"question": "x" * 5000})

    assert refused.status_code == 400
    assert "at most 4,000 characters" in refused.content.decode()


def test_visits_and_new_conversation_clicks_leave_one_empty_conversation(client, ann):
    client.force_login(ann)
    for _ in range(3):
        client.get("/chat/", follow=True)
        client.post("/chat/new", follow=True)
    asked = Conversation.objects.get(owner=ann)
    client.post(f"/chat/{asked.pk}/ask", {"question": "How do quotas work?"})

    fresh = client.post("/chat/new")

    assert Conversation.objects.filter(owner=ann).count() == 2
    assert fresh.url != f"/chat/{asked.pk}/", "a conversation with a question is not reused"
