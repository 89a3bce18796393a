"""Draft -> final: a doubtful draft is answered again, once, by the strong model. Run in process
with the real Qwen provider pointed at the stand-in, which answers differently per model."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.utils import translation

from assistant.accounts import quotas
from assistant.accounts.models import QuotaCounter
from assistant.chat import conversations
from assistant.chat.answers import answer_events
from assistant.chat.api import _render
from assistant.chat.events import Event, Kind
from assistant.chat.models import Conversation, Message
from assistant.chat.views import render_event
from assistant.llm.models import LlmCall
from ingest.models import Collection
from tests.support.documents import ingest_text
from tests.support.qwen_standin import Reply
from tests.support.waiting import wait_for

GUIDE = """# Quotas

Each person may ask 200 questions a day. Administrators can raise the limit for a group.
"""
QUESTION = "How many questions may I ask each day?"
NOT_COVERED = Reply(text="The documents do not cover daily limits.", prompt_tokens=300)
CITED = Reply(text="Each person may ask 200 questions a day [1].", prompt_tokens=300)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def person(django_user_model, qwen_settings):
    qwen_settings.QUERY_REWRITE = "off"
    ingest_text(Collection.objects.create(name="Guide", is_public=True), "guide.md", GUIDE)
    return django_user_model.objects.create_user("ann", password="pw-ann-123456")


def ask(person, question: str = QUESTION) -> Message:
    return conversations.ask(
        conversation=Conversation.objects.create(owner=person),
        question=question,
        high_accuracy=False,
    )


def answer(message: Message, person) -> list[Event]:
    async def collect() -> list[Event]:
        return [event async for event in answer_events(message, user=person)]

    events = async_to_sync(collect)()
    message.refresh_from_db()
    return events


def statuses(events: list[Event]) -> list[str]:
    return [event.data for event in events if event.kind == Kind.STATUS]


def answered_by(standin) -> list[str]:
    return [body["model"] for body in standin.chat_requests()]


def charged(person) -> tuple[int, Decimal]:
    day = QuotaCounter.objects.get(user=person, period=QuotaCounter.Period.DAY)
    month = QuotaCounter.objects.get(user=person, period=QuotaCounter.Period.MONTH)
    return day.tokens, month.cost_usd


def test_a_draft_that_says_not_covered_over_close_passages_is_answered_again_by_the_strong_model(
    person, standin
):
    standin.by_model |= {"qwen-plus": NOT_COVERED, "qwen-max": CITED}
    message = ask(person)

    events = answer(message, person)

    assert answered_by(standin) == ["qwen-plus", "qwen-max"], "upgraded once"
    assert statuses(events) == ["retrieving", "generating", "upgrading"]
    deltas = [event.data for event in events if event.kind == Kind.DELTA]
    restart = [e.kind for e in events].index(Kind.STATUS, 2)
    assert "".join(deltas[: restart - 2]).startswith("The documents do not cover")
    assert message.status == Message.Status.SUCCEEDED
    assert message.text == CITED.text and message.model == "qwen-max"
    assert message.upgraded and message.draft_text == NOT_COVERED.text
    assert not message.content_gap, "the final answer found it"
    assert [c.n for c in message.citations.filter(used=True)] == [1]
    calls = LlmCall.objects.filter(message=message, kind__in=["answer", "final"]).order_by("pk")
    assert [(c.kind, c.model, c.outcome) for c in calls] == [
        ("answer", "qwen-plus", "ok"),
        ("final", "qwen-max", "ok"),
    ]
    assert all(c.cost_usd > 0 for c in calls)
    spent = sum(c.prompt_tokens + c.completion_tokens for c in message.calls.all())
    cost = sum((c.cost_usd for c in message.calls.all()), Decimal(0))
    assert charged(person) == (spent, cost), "both calls charged, the reservation settled"


def test_the_reservation_covers_a_draft_and_its_final_answer(person, standin):
    draft_tokens, draft_cost = quotas.estimate("qwen-plus")
    final_tokens, final_cost = quotas.estimate("qwen-max")

    message = ask(person)

    assert message.reserved_tokens == draft_tokens + final_tokens
    assert message.reserved_cost_usd == draft_cost + final_cost


def test_a_good_draft_is_not_upgraded(person, standin):
    standin.by_model |= {"qwen-plus": CITED}
    message = ask(person)

    events = answer(message, person)

    assert answered_by(standin) == ["qwen-plus"]
    assert "upgrading" not in statuses(events)
    assert not message.upgraded and message.text == CITED.text


@pytest.mark.parametrize(
    "draft", ["Each person may ask 200 questions a day.", "Each person may ask 200 a day [7]."]
)
def test_a_draft_citing_nothing_or_a_passage_that_does_not_exist_is_upgraded(
    person, standin, draft
):
    standin.by_model |= {"qwen-plus": Reply(text=draft), "qwen-max": CITED}
    message = ask(person)

    answer(message, person)

    assert answered_by(standin) == ["qwen-plus", "qwen-max"]
    assert message.upgraded and message.text == CITED.text


def test_a_refusal_over_passages_retrieval_doubts_is_not_upgraded(person, standin):
    standin.by_model |= {"qwen-plus": Reply(text="The documents do not cover Kubernetes.")}
    message = ask(person, "How do administrators raise the Kubernetes limit for a group?")

    answer(message, person)

    assert answered_by(standin) == ["qwen-plus"]
    assert not message.upgraded and message.content_gap


def test_auto_upgrade_off_keeps_the_draft(person, standin, settings):
    settings.AUTO_UPGRADE = False
    standin.by_model |= {"qwen-plus": NOT_COVERED, "qwen-max": CITED}
    message = ask(person)

    answer(message, person)

    assert answered_by(standin) == ["qwen-plus"]
    assert message.text == NOT_COVERED.text and message.content_gap
    assert message.reserved_tokens == quotas.estimate("qwen-plus")[0]


def test_offline_nothing_is_upgraded(person, standin, settings):
    settings.ANSWER_PROVIDER = "extractive"
    message = ask(person)

    events = answer(message, person)

    assert message.provider == "extractive" and not message.upgraded
    assert "upgrading" not in statuses(events)
    assert message.reserved_tokens == quotas.estimate("extractive")[0]


def test_when_the_strong_model_fails_the_draft_stands(person, standin, settings):
    settings.QWEN_FALLBACK_MODELS = []
    settings.LLM_MAX_ATTEMPTS = 1
    standin.by_model |= {
        "qwen-plus": Reply(text="Two hundred a day."),
        "qwen-max": Reply(status=500),
    }
    message = ask(person)

    answer(message, person)

    assert message.status == Message.Status.SUCCEEDED
    assert message.text == "Two hundred a day." and not message.upgraded
    kinds = LlmCall.objects.filter(message=message, kind="answer").values_list("outcome", "model")
    assert sorted(kinds) == [("error", "qwen-max"), ("ok", "qwen-plus")]


@pytest.mark.parametrize("phase", ["draft", "final"])
def test_stop_ends_the_answer_in_either_phase(person, standin, phase):
    slow = Reply(chunks=[f"word{i} " for i in range(400)], chunk_delay_s=0.05)
    standin.by_model |= (
        {"qwen-plus": slow} if phase == "draft" else {"qwen-plus": NOT_COVERED, "qwen-max": slow}
    )
    message = ask(person)

    def run() -> None:
        try:
            answer(message, person)
        finally:
            connection.close()  # the thread's own: the test database is dropped at the end

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    model = "qwen-plus" if phase == "draft" else "qwen-max"
    wait_for(lambda: any(t["flushed"] for t in standin.timings if model in answered_by(standin)))

    conversations.request_stop(message)

    worker.join(60)
    assert not worker.is_alive()
    message.refresh_from_db()
    assert message.status == Message.Status.CANCELLED
    assert 0 < len(message.text.split()) < 400
    calls = LlmCall.objects.filter(message=message, kind__in=["answer", "final"]).order_by("pk")
    expected = {
        "draft": [("answer", "cancelled")],
        "final": [("answer", "ok"), ("final", "cancelled")],
    }[phase]
    assert [(c.kind, c.outcome) for c in calls] == expected
    assert answered_by(standin) == (
        ["qwen-plus"] if phase == "draft" else ["qwen-plus", "qwen-max"]
    )
    message.refresh_from_db()
    assert message.quota_settled
    wait_for(lambda: standin.disconnects == 1)  # the model's request was cancelled upstream


def test_the_reader_sees_the_upgrade_in_english_and_chinese():
    upgrading = Event(Kind.STATUS, Message.Status.UPGRADING)

    english = async_to_sync(render_event)(upgrading)
    with translation.override("zh-hans"):
        chinese = async_to_sync(render_event)(upgrading)

    assert "event: status\ndata: Checking with a stronger model…" in english
    assert "event: restart\n" in english, "the draft's text is cleared for the final answer"
    assert "正在用更强的模型核对" in chinese


def test_the_api_stream_carries_the_upgrade_in_its_status_event():
    event = async_to_sync(_render)(Event(Kind.STATUS, Message.Status.UPGRADING), message_id=7)

    assert event == 'event: status\ndata: {"status": "upgrading", "message_id": 7}\n\n'
