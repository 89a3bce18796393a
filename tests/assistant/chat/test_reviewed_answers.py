"""Reviewed answers served first to a question that means the same (in English or Chinese),
only to readers of every collection they cite, and held back once a cited document changes.
In process, with the real Qwen provider pointed at the stand-in and the local multilingual
embedder."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Group

from assistant.chat import conversations
from assistant.chat.answers import answer_events
from assistant.chat.events import Kind
from assistant.chat.models import Conversation, Message, ReviewedAnswer
from assistant.chat.reviewed import CannotConfirm, Cited, confirm, save_reviewed
from assistant.llm.models import LlmCall
from ingest.models import Collection
from tests.support.documents import ingest_text
from tests.support.qwen_standin import Reply

GUIDE = """# Quotas

Each person may ask 200 questions a day. Administrators can raise the limit for a group.
"""
REVIEWED = "You may ask **200 questions a day**; an admin can raise it for your group [1]."

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def guide(qwen_settings):
    qwen_settings.QUERY_REWRITE = "off"
    qwen_settings.AUTO_UPGRADE = False  # one model call per answer (test_upgrade.py: more)
    collection = Collection.objects.create(name="Guide", is_public=True)
    return ingest_text(collection, "guide.md", GUIDE)


@pytest.fixture
def ann(django_user_model):
    return django_user_model.objects.create_user("ann", password="pw-ann-123456")


@pytest.fixture
def sam(django_user_model):
    staff = django_user_model.objects.create_user("sam", password="pw-sam-123456")
    staff.first_name, staff.last_name = "Sam", "Lee"
    staff.save()
    staff.groups.add(Group.objects.get(name="staff"))
    return staff


def review(guide, sam, *, cited=None, collections=None) -> ReviewedAnswer:
    return save_reviewed(
        question="How many questions may I ask each day?",
        answer=REVIEWED,
        collections=collections or [guide.collection],
        variants=["What is the daily question limit?", "每天可以问多少个问题？"],
        cited=cited or [Cited(guide)],
        by=sam,
    )


def asked(user, question: str, **options) -> tuple[Message, list]:
    message = conversations.ask(
        conversation=Conversation.objects.create(owner=user),
        question=question,
        high_accuracy=False,
        **options,
    )

    async def collect():
        return [event async for event in answer_events(message, user=user)]

    events = async_to_sync(collect)()
    message.refresh_from_db()
    return message, events


@pytest.mark.parametrize(
    "question",
    ["How many questions am I allowed to ask per day?", "我每天最多可以问几个问题？"],
    ids=["english", "chinese"],
)
def test_a_paraphrase_gets_the_reviewed_answer_at_once_with_its_citations_and_no_model_call(
    guide, sam, ann, standin, question
):
    reviewed = review(guide, sam)

    message, events = asked(ann, question)

    assert message.reviewed_answer == reviewed
    assert [e.data for e in events if e.kind == Kind.DELTA] == [REVIEWED], "in one piece"
    assert message.status == Message.Status.SUCCEEDED and message.text == REVIEWED
    assert [(c.n, c.document_id) for c in message.citations.filter(used=True)] == [(1, guide.pk)]
    assert 'class="cite"' in message.html
    assert standin.chat_requests() == [], "no model wrote it"
    kinds = set(LlmCall.objects.filter(message=message).values_list("kind", flat=True))
    assert kinds <= {LlmCall.Kind.EMBEDDING}
    assert message.cost_usd == 0


@pytest.mark.parametrize(
    "question",
    ["How many documents may I upload each day?", "How do I raise the daily limit for a group?"],
)
def test_a_near_miss_is_answered_from_the_documents(guide, sam, ann, standin, question):
    review(guide, sam)
    standin.script(Reply(text="Administrators can raise it [1]."))

    message, _ = asked(ann, question)

    assert message.reviewed_answer is None
    assert message.text == "Administrators can raise it [1]."


def test_ask_the_documents_instead_skips_the_reviewed_answer(guide, sam, ann, standin):
    review(guide, sam)

    message, _ = asked(ann, "How many questions am I allowed to ask per day?", use_reviewed=False)

    assert message.reviewed_answer is None and len(standin.chat_requests()) == 1


def test_someone_who_cannot_read_a_cited_collection_does_not_get_it(
    guide, sam, ann, standin, django_user_model
):
    board = Collection.objects.create(name="Board")
    minutes = ingest_text(board, "minutes.md", "# Limits\n\nThe board set 200 questions a day.")
    review(guide, sam, cited=[Cited(guide), Cited(minutes)], collections=[guide.collection])
    reader = django_user_model.objects.create_user("bo", password="pw-bo-123456")
    board.reader_users.add(reader)

    hidden, _ = asked(ann, "How many questions am I allowed to ask per day?")
    shown, _ = asked(reader, "How many questions am I allowed to ask per day?")

    assert hidden.reviewed_answer is None
    assert shown.reviewed_answer is not None


def test_a_changed_document_flags_the_answer_until_someone_confirms_it(guide, sam, ann, standin):
    reviewed = review(guide, sam)
    ingest_text(guide.collection, "guide.md", GUIDE.replace("200", "300"))

    flagged, _ = asked(ann, "How many questions am I allowed to ask per day?")

    reviewed.refresh_from_db()
    assert flagged.reviewed_answer is None
    assert reviewed.needs_review and "changed" in reviewed.review_reason
    confirm(reviewed, by=sam)
    served, _ = asked(ann, "How many questions am I allowed to ask per day?")
    assert served.reviewed_answer == reviewed
    assert reviewed.citations.get().document.version == 2


def test_a_removed_document_cannot_be_confirmed(guide, sam, ann, standin):
    reviewed = review(guide, sam)
    guide.delete()
    asked(ann, "How many questions am I allowed to ask per day?")
    reviewed.refresh_from_db()

    assert reviewed.needs_review
    with pytest.raises(CannotConfirm):
        confirm(reviewed, by=sam)


def test_the_answer_says_who_reviewed_it_and_offers_the_documents_instead(
    guide, sam, ann, standin, client
):
    review(guide, sam)
    message, _ = asked(ann, "How many questions am I allowed to ask per day?")
    client.force_login(ann)

    page = client.get(f"/chat/{message.conversation_id}/").content.decode()
    again = client.post(f"/chat/messages/{message.pk}/documents")

    assert "Reviewed by Sam Lee on" in page and "Ask the documents instead" in page
    assert again.status_code == 302
    retry = Message.objects.filter(conversation=message.conversation, role="assistant").last()
    assert retry.pk != message.pk and not retry.use_reviewed
