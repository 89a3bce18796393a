"""An answer whose web server dies mid-stream: its text so far is kept, it is closed as
interrupted within the stale-heartbeat window (or at once by Stop), its usage is charged once,
and it no longer counts against its owner's open answers."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from datetime import timedelta

import httpx
import pytest
from django.db.models import F, Sum
from django.utils import timezone

from assistant.accounts.models import QuotaCounter
from assistant.chat import conversations
from assistant.chat.models import Conversation, Message
from assistant.llm.models import LlmCall
from tests.assistant.chat.test_stream import ask, person  # noqa: F401  (a fixture)
from tests.conftest import qwen_env, worker_database_url
from tests.support import app_server
from tests.support.qwen_standin import Reply
from tests.support.sse import read_events, session_cookies
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def stream_in_background(url: str, user, message: Message) -> threading.Event:
    first_delta = threading.Event()
    cookies = session_cookies(user)

    def read():
        address = f"{url}/chat/messages/{message.pk}/stream"
        with (
            contextlib.suppress(httpx.HTTPError),  # the server dies under it
            httpx.stream("GET", address, cookies=cookies, timeout=60) as response,
        ):
            for event in read_events(response):
                if event.name == "delta":
                    first_delta.set()

    threading.Thread(target=read, daemon=True).start()
    return first_delta


@pytest.fixture
def dying_server(standin, settings):
    """A web server of its own (to kill), beating every half second."""
    settings.ANSWER_HEARTBEAT_S, settings.ANSWER_STALE_S = 0.5, 3
    env = (
        os.environ
        | qwen_env(standin)
        | {"DATABASE_URL": worker_database_url(), "ANSWER_HEARTBEAT_S": "0.5"}
    )
    process, url = app_server.start(env)
    yield process, url
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.mark.parametrize("closer", ["the sweeper", "Stop"])
def test_an_answer_whose_server_died_is_closed_with_its_text_and_charged_once(
    dying_server,
    standin,
    person,  # noqa: F811
    settings,
    closer,
):
    process, url = dying_server
    standin.script(Reply(chunks=[f"word{i} " for i in range(300)], chunk_delay_s=0.05))
    settings.MAX_OPEN_STREAMS_PER_USER = 1
    message = ask(person)
    assert stream_in_background(url, person, message).wait(20)
    wait_for(lambda: len(Message.objects.get(pk=message.pk).text.split()) >= 5)

    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    if closer == "Stop":
        # Stop pressed on the orphan (once its heartbeat has missed two beats) closes it at once.
        missed = timedelta(seconds=2 * settings.ANSWER_HEARTBEAT_S + 1)
        wait_for(lambda: Message.objects.get(pk=message.pk).heartbeat_at < timezone.now() - missed)
        conversations.request_stop(message)
    else:
        wait_for(conversations.close_abandoned_answers, timeout=60)

    message.refresh_from_db()
    assert message.status == Message.Status.INTERRUPTED
    assert message.text.startswith("word0 word1 word2 word3 word4 ")
    assert "interrupted before its end" in message.notice
    assert "word4" in message.html
    [estimate] = LlmCall.objects.filter(message=message)
    assert estimate.outcome == LlmCall.Outcome.INTERRUPTED and estimate.estimated
    assert estimate.prompt_tokens > 0 and estimate.completion_tokens >= 5
    assert message.quota_settled
    used = LlmCall.objects.filter(message=message).aggregate(
        tokens=Sum(F("prompt_tokens") + F("completion_tokens"))
    )["tokens"]
    today = QuotaCounter.objects.get(user=person, period="day")
    assert today.tokens == used, "charged once, for what it used"
    assert conversations.close_abandoned_answers() == 0
    # It no longer holds the owner's one open answer.
    conversation = Conversation.objects.create(owner=person)
    conversations.ask(conversation=conversation, question="Again?", high_accuracy=False)
