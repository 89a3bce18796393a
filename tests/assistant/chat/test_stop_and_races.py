"""Stop from anywhere, a second tab that follows, and the sweeper racing a live stream: over the
live ASGI server (its own process) with the stand-in as Qwen, Stop and the sweeper coming from
this test process, as they would from another web process or the Celery beat."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import httpx
import pytest
from django.db.models import F, Sum
from django.test import Client
from django.utils import timezone

from assistant.accounts.models import QuotaCounter
from assistant.chat import conversations
from assistant.chat.models import Message
from assistant.llm.models import LlmCall
from tests.assistant.chat.test_api import token_for
from tests.assistant.chat.test_stream import ask, person  # noqa: F401  (a fixture)
from tests.support.qwen_standin import Reply
from tests.support.sse import read_events, session_cookies
from tests.support.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = Reply(chunks=[f"word{i} " for i in range(200)], chunk_delay_s=0.05)


def open_stream(live_server_url: str, user, message: Message):
    """Read the answer's events in a thread; returns (events so far, first delta seen, ended)."""
    events, first_delta, ended = [], threading.Event(), threading.Event()
    cookies = session_cookies(user)  # here: a thread's own database connection would linger

    def read():
        with httpx.stream(
            "GET",
            f"{live_server_url}/chat/messages/{message.pk}/stream",
            cookies=cookies,
            timeout=60,
        ) as response:
            for event in read_events(response):
                events.append(event)
                if event.name == "delta":
                    first_delta.set()
        ended.set()

    threading.Thread(target=read, daemon=True).start()
    return events, first_delta, ended


def stop_from_this_process(user, message: Message) -> None:
    """Press Stop through the web view, run in this test process, not the server's."""
    client = Client()
    client.force_login(user)
    assert client.post(f"/chat/messages/{message.pk}/stop").status_code == 204


def test_stop_from_another_process_ends_the_stream_at_once(live_server_url, standin, person):  # noqa: F811
    standin.script(SLOW)
    message = ask(person)
    events, first_delta, ended = open_stream(live_server_url, person, message)
    assert first_delta.wait(20)

    stop_from_this_process(person, message)

    assert ended.wait(60)
    message.refresh_from_db()
    assert message.status == Message.Status.CANCELLED and message.notice.startswith("Stopped")
    assert events[-1].name == "done" and "Stopped" in events[-1].data
    # The model's 200 words take 10 s: a stream Stop did not reach would have them all.
    assert 0 < len(message.text.split()) < 200
    wait_for(lambda: standin.disconnects == 1)  # the request to the model was cancelled
    assert LlmCall.objects.get(message=message, kind="answer").outcome == "cancelled"


@pytest.mark.parametrize(
    "reply",
    [
        Reply(first_token_delay_s=30, text="never seen"),  # waiting for the first token
        Reply(status=429, retry_after=30),  # sleeping before a retry
    ],
    ids=["first-token-wait", "retry-backoff"],
)
def test_stop_reaches_an_answer_that_has_not_started_writing(
    live_server_url,
    standin,
    person,  # noqa: F811
    reply,
):
    standin.script(reply, reply)
    message = ask(person)
    events, _, ended = open_stream(live_server_url, person, message)
    wait_for(standin.chat_requests)  # the model was called: the answer waits on it

    stop_from_this_process(person, message)

    # Unstopped, the wait would end in the offline answer once the first-token budget is spent.
    assert ended.wait(60)
    message.refresh_from_db()
    assert message.status == Message.Status.CANCELLED
    assert message.text == "" and events[-1].name == "done"


def test_a_second_tab_follows_the_answer_to_its_end(live_server_url, standin, person):  # noqa: F811
    standin.script(Reply(chunks=[f"word{i} " for i in range(20)], chunk_delay_s=0.05))
    message = ask(person)
    _, first_delta, first_ended = open_stream(live_server_url, person, message)
    assert first_delta.wait(20)

    second_events, _, second_ended = open_stream(live_server_url, person, message)

    assert first_ended.wait(20) and second_ended.wait(5)
    message.refresh_from_db()
    assert message.status == Message.Status.SUCCEEDED
    assert [e.name for e in second_events] == ["done"]
    assert "word19" in second_events[0].data
    assert len(standin.chat_requests()) == 1


def test_the_api_stops_a_streamed_answer(live_server_url, standin, person):  # noqa: F811
    standin.script(SLOW)
    token = token_for(person.username)
    headers = {"Authorization": f"Bearer {token}"}
    events = []
    with httpx.stream(
        "POST",
        f"{live_server_url}/api/v1/ask",
        json={"question": "How many questions may I ask each day?", "stream": True},
        headers=headers,
        timeout=30,
    ) as response:
        for event in read_events(response):
            events.append(event)
            if event.name == "status":
                message_id = json.loads(event.data)["message_id"]
            if event.name == "delta" and len(events) == 3:
                stopped = httpx.post(
                    f"{live_server_url}/api/v1/messages/{message_id}/stop",
                    headers=headers,
                    timeout=10,
                )
                assert stopped.status_code == 202, stopped.text
                assert stopped.json()["message_id"] == message_id

    done = json.loads(events[-1].data)
    assert events[-1].name == "done" and done["status"] == "cancelled"
    assert 0 < len(done["answer"].split()) < 200
    again = httpx.post(
        f"{live_server_url}/api/v1/messages/{message_id}/stop", headers=headers, timeout=10
    )
    assert again.status_code == 202 and again.json()["status"] == "cancelled"


def test_the_api_stop_is_refused_for_someone_elses_answer(
    live_server_url,
    django_user_model,
    person,  # noqa: F811
):
    message = ask(person)
    django_user_model.objects.create_user("eve", password="pw-eve-123456")
    stopped = httpx.post(
        f"{live_server_url}/api/v1/messages/{message.pk}/stop",
        headers={"Authorization": f"Bearer {token_for('eve')}"},
        timeout=10,
    )
    assert stopped.status_code == 404
    message.refresh_from_db()
    assert not message.stop_requested and message.status == Message.Status.CREATED


def test_the_sweeper_closing_a_live_answer_settles_its_quota_exactly_once(
    live_server_url,
    standin,
    person,  # noqa: F811
):
    standin.script(Reply(chunks=[f"word{i} " for i in range(200)], chunk_delay_s=0.05))
    message = ask(person)
    today = QuotaCounter.objects.get(user=person, period="day")
    assert today.tokens == message.reserved_tokens
    _, first_delta, ended = open_stream(live_server_url, person, message)
    assert first_delta.wait(20)

    # The beat sweeper takes the answer for abandoned while its stream still writes.
    Message.objects.filter(pk=message.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert conversations.close_abandoned_answers() == 1

    assert ended.wait(10)
    message.refresh_from_db()
    assert message.status == Message.Status.INTERRUPTED, "the sweeper's verdict stands"
    assert message.quota_settled
    used = LlmCall.objects.filter(message=message).aggregate(
        tokens=Sum(F("prompt_tokens") + F("completion_tokens"))
    )["tokens"]
    assert LlmCall.objects.filter(message=message, kind="answer").count() == 1, (
        "the stream's real usage replaced the sweeper's estimate"
    )
    assert used > 0
    today.refresh_from_db()
    assert (today.questions, today.tokens) == (1, used), "every call counted once, nothing else"
    assert conversations.close_abandoned_answers() == 0
