"""Per-user quotas on the real database: guarded counters, overrides, refusals, the chat's count."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from assistant.accounts import quotas
from assistant.accounts.models import QuotaCounter, QuotaOverride
from assistant.chat import conversations
from assistant.chat.models import Conversation, Message


@pytest.fixture
def ann(django_user_model):
    return django_user_model.objects.create_user("ann", password="pw-ann-123456")


def ask(user, question: str = "How do quotas work?") -> Message:
    conversation = Conversation.objects.create(owner=user)
    return conversations.ask(conversation=conversation, question=question, high_accuracy=False)


@pytest.mark.django_db(transaction=True)
def test_many_simultaneous_questions_against_a_quota_of_n_let_exactly_n_through(ann):
    QuotaOverride.objects.create(user=ann, questions_per_day=5)
    start = threading.Barrier(20)
    outcomes: list[str] = []

    def one_request():
        start.wait()
        try:
            quotas.reserve(ann, tokens=100, cost=Decimal("0.001"))
            outcomes.append("taken")
        except quotas.QuotaExceeded:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=one_request) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("taken") == 5 and outcomes.count("refused") == 15
    today = QuotaCounter.objects.get(user=ann, period="day")
    month = QuotaCounter.objects.get(user=ann, period="month")
    assert (today.questions, today.tokens) == (5, 500)
    assert month.cost_usd == Decimal("0.005")


@pytest.mark.django_db
def test_a_refused_question_says_which_limit_when_it_resets_and_leaves_nothing(ann):
    QuotaOverride.objects.create(user=ann, questions_per_day=1)
    ask(ann)

    with pytest.raises(quotas.QuotaExceeded) as refusal:
        ask(ann, "And another one?")

    assert "1 question for today" in str(refusal.value)
    assert "resets at" in str(refusal.value) and "administrator" in str(refusal.value)
    assert 0 < refusal.value.retry_after_s <= 86_400
    assert Message.objects.count() == 2, "the refused question left no messages"
    assert QuotaCounter.objects.get(user=ann, period="day").questions == 1


@pytest.mark.django_db
def test_the_token_and_monthly_cost_limits_refuse_once_used_up(ann, settings):
    settings.QUOTA_TOKENS_PER_DAY = 1000
    quotas.reserve(ann, tokens=1500, cost=Decimal(0))
    with pytest.raises(quotas.QuotaExceeded, match="1,000 tokens for today"):
        quotas.reserve(ann, tokens=10, cost=Decimal(0))

    settings.QUOTA_TOKENS_PER_DAY = 0  # no limit
    settings.QUOTA_COST_PER_MONTH = 0.01
    quotas.reserve(ann, tokens=10, cost=Decimal("0.02"))
    with pytest.raises(quotas.QuotaExceeded, match=r"monthly budget of \$0.01"):
        quotas.reserve(ann, tokens=10, cost=Decimal(0))


@pytest.mark.django_db
def test_own_override_beats_groups_and_the_most_generous_group_wins(ann, settings):
    settings.QUOTA_QUESTIONS_PER_DAY = 10
    assert quotas.limits_for(ann).questions_per_day == 10
    small, large = Group.objects.create(name="small"), Group.objects.create(name="large")
    ann.groups.add(small, large)
    QuotaOverride.objects.create(group=small, questions_per_day=20)
    QuotaOverride.objects.create(group=large, questions_per_day=50, tokens_per_day=7)
    limits = quotas.limits_for(ann)
    assert (limits.questions_per_day, limits.tokens_per_day) == (50, 7)

    QuotaOverride.objects.create(user=ann, questions_per_day=3)
    limits = quotas.limits_for(ann)
    assert (limits.questions_per_day, limits.tokens_per_day) == (3, 7)


@pytest.mark.django_db
def test_the_chat_counts_down_and_refuses_the_fourth_question_plainly(client, ann):
    QuotaOverride.objects.create(user=ann, questions_per_day=3)
    client.force_login(ann)
    conversation = Conversation.objects.create(owner=ann)
    page = client.get(f"/chat/{conversation.pk}/")
    assert "3 questions left today" in page.content.decode()

    for left in (2, 1, 0):
        reply = client.post(
            f"/chat/{conversation.pk}/ask",
            {"question": f"Question {left}?"},
            HTTP_HX_REQUEST="true",
        )
        assert reply.status_code == 200
        assert f"{left} question{'s' if left != 1 else ''} left today" in reply.content.decode()

    refused = client.post(
        f"/chat/{conversation.pk}/ask", {"question": "A fourth?"}, HTTP_HX_REQUEST="true"
    )
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert refused["HX-Retarget"] == "#ask-error"
    assert "You have used your 3 questions for today" in refused.content.decode()
    assert conversation.messages.count() == 6


@pytest.mark.django_db
def test_a_user_may_not_have_more_answers_open_than_the_limit(ann, settings):
    settings.MAX_OPEN_STREAMS_PER_USER = 2
    ask(ann)
    ask(ann)
    with pytest.raises(conversations.TooManyOpenAnswers, match="2 answers being written"):
        ask(ann)
    Message.objects.filter(role="assistant").update(status=Message.Status.SUCCEEDED)
    ask(ann)


@pytest.mark.django_db
def test_an_answer_never_streamed_is_closed_and_its_reservation_returned(ann):
    message = ask(ann)
    assert QuotaCounter.objects.get(user=ann, period="day").tokens == message.reserved_tokens
    Message.objects.filter(pk=message.pk).update(
        created_at=message.created_at - conversations.OPEN_ANSWER_WINDOW
    )

    assert conversations.close_abandoned_answers() == 1

    message.refresh_from_db()
    assert message.status == Message.Status.FAILED and message.quota_settled
    today = QuotaCounter.objects.get(user=ann, period="day")
    assert (today.questions, today.tokens) == (1, 0)
    assert conversations.close_abandoned_answers() == 0
