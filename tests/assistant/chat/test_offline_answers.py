"""Answers with no key (the extractive provider), run in process: the "may not cover" notice,
and follow-ups that stay on topic without a model to rewrite them."""

from __future__ import annotations

import pytest

from assistant.chat import conversations
from assistant.chat.answers import answer_fully
from assistant.chat.followups import is_follow_up
from assistant.chat.models import Conversation, Message
from assistant.chat.notices import MAY_NOT_COVER
from ingest.models import Collection
from tests.support.documents import ingest_text

GUIDE = """# Uploads

How to upload documents: open Documents, choose Upload and pick the files. Files up to 50 MB
are accepted. Scanned PDFs need OCR first.

# Quotas

Each person may ask 200 questions a day. Administrators can raise the limit for a group.

# 配额

每人每天可以提问 200 次。配额用完后，请等到第二天，或者请管理员提高你所在小组的上限。

# 上传

上传文档：打开“文档”，点击“上传”并选择文件。第一步选择文件，第二步填写标题，然后提交。
"""

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def person(django_user_model, settings):
    settings.ANSWER_PROVIDER = "extractive"
    ingest_text(Collection.objects.create(name="Guide", is_public=True), "guide.md", GUIDE)
    return django_user_model.objects.create_user("ann", password="pw-ann-123456")


def answer(conversation: Conversation, question: str) -> Message:
    message = conversations.ask(conversation=conversation, question=question, high_accuracy=False)
    answer_fully(message, user=conversation.owner)
    message.refresh_from_db()
    return message


def first_heading(message: Message) -> str:
    return message.citations.order_by("n").first().heading_path


def test_offline_a_weak_match_shows_the_closest_passages_under_a_notice(person):
    message = answer(Conversation.objects.create(owner=person), "Can I upload videos to the wiki?")

    assert message.status == "succeeded"
    assert message.content_gap
    assert message.notice == MAY_NOT_COVER
    assert message.text.startswith(">"), "the closest passages are quoted, not refused"


def test_offline_a_covered_question_gets_no_notice(person):
    message = answer(
        Conversation.objects.create(owner=person), "How many questions may each person ask a day?"
    )

    assert not message.content_gap
    assert "200 questions a day" in message.text


@pytest.mark.parametrize(
    ("first", "then", "heading", "follows"),
    [
        (
            "How do I upload documents?",
            "What happens when my daily quota of questions runs out?",
            "Quotas",
            False,
        ),
        ("How do I upload documents?", "配额用完了怎么办？", "配额", False),
        ("怎么上传文档？", "配额用完了怎么办？", "配额", False),
        (
            "How many questions may each person ask a day?",
            "and can administrators raise it?",
            "Quotas",
            True,
        ),
        ("怎么上传文档？", "那第二步呢？", "上传", True),
    ],
    ids=["en-new-topic", "en-then-zh-new-topic", "zh-new-topic", "en-follow-up", "zh-follow-up"],
)
def test_offline_a_follow_up_is_searched_with_the_question_before_it_and_a_new_topic_alone(
    person, first, then, heading, follows
):
    conversation = Conversation.objects.create(owner=person)
    answer(conversation, first)

    message = answer(conversation, then)

    assert message.standalone_question == (f"{first} {then}" if follows else then)
    assert first_heading(message) == heading


@pytest.mark.parametrize(
    "question",
    [
        "and on Windows?",
        "What about PDFs?",
        "那第二步呢？",
        "它支持中文吗？",
        "why?",
        "Can I change it?",
    ],
)
def test_questions_that_lean_on_the_one_before_are_follow_ups(question):
    assert is_follow_up(question)


@pytest.mark.parametrize(
    "question",
    [
        "配额用完了怎么办？",
        "How do I reset my password?",
        "每天可以问多少个问题？",
        "What is the upload limit?",
    ],
)
def test_questions_that_stand_alone_are_not(question):
    assert not is_follow_up(question)
