"""An answer's quota settled to what its model calls really used, once, whichever way it ended:
answered, answered offline after every try failed, or broken mid-stream. Run in process with
the real Qwen provider pointed at the stand-in (Stop and the sweeper: test_stream.py,
test_stop_and_races.py, test_interrupted.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assistant.accounts.models import QuotaCounter
from assistant.chat import conversations
from assistant.chat.answers import answer_fully
from assistant.chat.charging import settle_quota
from assistant.chat.models import Conversation, Message
from assistant.llm.models import LlmCall
from ingest.models import Collection
from tests.support.documents import ingest_text
from tests.support.qwen_standin import Reply

GUIDE = """# Quotas

Each person may ask 200 questions a day. Administrators can raise the limit for a group.
"""

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def person(django_user_model, qwen_settings):
    qwen_settings.QUERY_REWRITE = "always"  # two model calls to add up: the rewrite, the answer
    qwen_settings.LLM_MAX_ATTEMPTS = 2
    ingest_text(Collection.objects.create(name="Guide", is_public=True), "guide.md", GUIDE)
    return django_user_model.objects.create_user("ann", password="pw-ann-123456")


def answered(person) -> Message:
    """Ask, check the estimate is reserved, answer to the end."""
    message = conversations.ask(
        conversation=Conversation.objects.create(owner=person),
        question="How many questions may I ask each day?",
        high_accuracy=False,
    )
    assert counted(person) == (1, message.reserved_tokens, message.reserved_cost_usd)
    answer_fully(message, user=person)
    message.refresh_from_db()
    return message


def counted(person) -> tuple[int, int, Decimal]:
    """Questions and tokens today, cost this month."""
    day = QuotaCounter.objects.get(user=person, period=QuotaCounter.Period.DAY)
    month = QuotaCounter.objects.get(user=person, period=QuotaCounter.Period.MONTH)
    return day.questions, day.tokens, month.cost_usd


def used(message: Message) -> tuple[int, int, Decimal]:
    calls = LlmCall.objects.filter(message=message)
    tokens = sum(call.prompt_tokens + call.completion_tokens for call in calls)
    return 1, tokens, sum((call.cost_usd for call in calls), Decimal(0))


def test_an_answer_is_charged_exactly_what_its_calls_used_in_place_of_the_reservation(
    person, standin
):
    standin.script(Reply(text="Two hundred a day [1].", prompt_tokens=500))

    message = answered(person)

    assert message.status == Message.Status.SUCCEEDED and message.quota_settled
    kinds = set(LlmCall.objects.filter(message=message).values_list("kind", flat=True))
    assert {LlmCall.Kind.REWRITE, LlmCall.Kind.ANSWER} <= kinds
    charged = used(message)
    assert 500 < charged[1] < message.reserved_tokens and charged[2] > 0
    assert counted(person) == charged
    settle_quota(message)
    assert counted(person) == charged, "settled once"


def test_an_answer_quoted_offline_after_every_try_failed_is_charged_what_the_tries_used(
    person, standin
):
    standin.script(*[Reply(status=500)] * 4)  # two tries of the model, two of the fallback

    message = answered(person)

    assert (message.status, message.provider) == (Message.Status.SUCCEEDED, "extractive")
    failed = LlmCall.objects.filter(message=message, outcome=LlmCall.Outcome.ERROR)
    assert failed.count() == 4
    assert message.quota_settled
    charged = used(message)
    assert 0 < charged[1] < message.reserved_tokens, "the rewrite's tokens"
    assert counted(person) == charged
    settle_quota(message)
    assert counted(person) == charged, "settled once"


def test_a_stream_broken_mid_answer_is_charged_its_real_usage_once(person, standin):
    standin.script(Reply(text="Each person may ask 200 questions [1].", break_after=3))

    message = answered(person)

    assert message.status == Message.Status.FAILED and message.quota_settled
    broken = LlmCall.objects.get(message=message, outcome=LlmCall.Outcome.BROKEN)
    assert broken.completion_tokens > 0, "the partial text's tokens, estimated"
    charged = used(message)
    assert counted(person) == charged
    settle_quota(message)
    assert counted(person) == charged, "settled once"
