"""The chat pipeline over a live ASGI server, answering with the real Qwen provider pointed at
the scripted stand-in."""

from __future__ import annotations

import re
import threading
import time

import httpx
import pytest

from assistant.accounts.models import QuotaCounter
from assistant.chat import conversations
from assistant.chat.models import Conversation, Message
from assistant.llm.models import LlmCall
from ingest.models import Collection
from tests.support.documents import ingest_text
from tests.support.qwen_standin import Reply
from tests.support.sse import read_events, session_cookies, stream_all

GUIDE = """# Quotas

Each person may ask 200 questions a day. Administrators can raise the limit for a group.

# Uploads

Files up to 50 MB are accepted. Scanned PDFs need OCR first.
"""

QUESTION = "How many questions may I ask each day?"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def person(django_user_model):
    collection = Collection.objects.create(name="Guide", is_public=True)
    ingest_text(collection, "guide.md", GUIDE)
    return django_user_model.objects.create_user("ann", password="pw-ann-123456")


def ask(user, question: str = "How many questions may I ask each day?", **kwargs) -> Message:
    conversation = Conversation.objects.create(owner=user)
    return conversations.ask(
        conversation=conversation, question=question, high_accuracy=False, **kwargs
    )


def stream(live_server_url: str, user, message: Message) -> list:
    return stream_all(f"{live_server_url}/chat/messages/{message.pk}/stream", session_cookies(user))


def test_deltas_arrive_in_order_and_the_answer_is_stored(live_server_url, standin, person):
    standin.script(
        Reply(
            chunks=["Each ", "person ", "may ", "ask ", "200 ", "a day ", "[1]."],
            prompt_tokens=321,
            chunk_delay_s=0.05,  # a client that keeps up gets each delta as it comes
        )
    )
    message = ask(person)

    events = stream(live_server_url, person, message)

    names = [e.name for e in events]
    assert names[:2] == ["status", "status"]
    assert [e.data for e in events if e.name == "status"] == ["Searching…", "Writing…"]
    assert [e.data for e in events if e.name == "delta"] == [
        "Each ",
        "person ",
        "may ",
        "ask ",
        "200 ",
        "a day ",
        "[1].",
    ]
    assert names[-1] == "done"
    assert 'class="cite"' in events[-1].data
    message.refresh_from_db()
    assert message.status == Message.Status.SUCCEEDED
    assert message.text == "Each person may ask 200 a day [1]."
    assert (message.prompt_tokens, message.completion_tokens) == (321, 7)
    assert message.first_token_ms is not None and message.total_ms >= message.first_token_ms
    assert message.citations.get(n=1).source_path == "guide.md"
    call = LlmCall.objects.get(message=message, kind="answer")
    assert (call.model, call.prompt_tokens, call.outcome) == ("qwen-plus", 321, "ok")
    assert call.cost_usd > 0
    sent = standin.chat_requests()[0]
    assert sent["max_tokens"] > 0 and sent["stream_options"] == {"include_usage": True}


def test_a_finished_message_replays_as_its_stored_answer(live_server_url, standin, person):
    message = ask(person)
    stream(live_server_url, person, message)

    again = stream(live_server_url, person, message)

    assert [e.name for e in again] == ["done"]
    assert "The documents say so" in again[0].data
    assert len(standin.chat_requests()) == 1


def test_429_then_success(live_server_url, standin, person):
    standin.script(Reply(status=429, retry_after=0.2), Reply(text="Two hundred [1]."))
    message = ask(person)

    stream(live_server_url, person, message)

    message.refresh_from_db()
    assert (message.status, message.text) == ("succeeded", "Two hundred [1].")
    assert len(standin.chat_requests()) == 2


def test_persistent_500s_fall_back_to_the_next_model(live_server_url, standin, person):
    standin.script(Reply(status=500), Reply(status=500), Reply(text="From turbo [1]."))
    message = ask(person)

    stream(live_server_url, person, message)

    message.refresh_from_db()
    assert (message.status, message.model) == ("succeeded", "qwen-turbo")
    assert [r["model"] for r in standin.chat_requests()] == ["qwen-plus", "qwen-plus", "qwen-turbo"]


def test_timeouts_everywhere_end_in_the_extractive_answer_with_a_notice(
    live_server_url, standin, person
):
    standin.script(*[Reply(hang_s=10)] * 5)
    message = ask(person)

    stream(live_server_url, person, message)

    message.refresh_from_db()
    assert message.status == "succeeded"
    assert message.provider == "extractive"
    assert "did not start answering in time" in message.notice
    assert "offline mode" in message.notice
    assert "200 questions a day" in message.text
    # Two tries of 1.5 s on qwen-plus; the fallback model's try ends with the 4 s budget.
    assert [r["model"] for r in standin.chat_requests()] == ["qwen-plus", "qwen-plus", "qwen-turbo"]
    failed = LlmCall.objects.filter(message=message, kind="answer", outcome="error")
    assert list(failed.order_by("pk").values_list("model", flat=True)) == [
        "qwen-plus",
        "qwen-plus",
        "qwen-turbo",
    ], "every try is a recorded call"
    assert message.total_ms < 10_000, "within the budget, not after the model's 10 s hang"


def test_a_stream_broken_after_the_first_token_fails_and_keeps_the_partial_text(
    live_server_url, standin, person
):
    standin.script(Reply(chunks=["Each ", "person ", "may"], break_after=2))
    message = ask(person)

    events = stream(live_server_url, person, message)

    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.text == "Each person "
    assert message.error == "The answer was cut off by the answer service. Please ask again."
    assert "cut off" in events[-1].data
    assert len(standin.chat_requests()) == 1, "no retry after the first token"


def test_401_is_not_retried_and_the_user_gets_quotes_with_a_plain_notice(
    live_server_url, standin, person
):
    standin.script(Reply(status=401))
    message = ask(person)

    events = stream(live_server_url, person, message)

    message.refresh_from_db()
    assert len(standin.chat_requests()) == 1
    assert "An administrator has been told" in message.notice
    assert "sk-test" not in events[-1].data and "Traceback" not in events[-1].data
    assert message.provider == "extractive"


def stop_after_first_word(live_server_url: str, user, message: Message) -> list:
    """Stream the answer and press Stop, like the browser, once the first word arrived."""
    cookies = session_cookies(user)
    seen = []

    def press_stop_after_the_first_word():
        while not seen:
            time.sleep(0.05)
        client = httpx.Client(base_url=live_server_url, cookies=cookies)
        page = client.get(f"/chat/{message.conversation_id}/")
        token = client.cookies.get("csrftoken") or page.cookies.get("csrftoken")
        client.post(f"/chat/messages/{message.pk}/stop", headers={"X-CSRFToken": token})

    threading.Thread(target=press_stop_after_the_first_word, daemon=True).start()
    with httpx.stream(
        "GET", f"{live_server_url}/chat/messages/{message.pk}/stream", cookies=cookies, timeout=30
    ) as response:
        events = []
        for event in read_events(response):
            events.append(event)
            if event.name == "delta":
                seen.append(event)
    return events


def test_stop_cancels_the_upstream_request(live_server_url, standin, person):
    standin.script(Reply(chunks=[f"word{i} " for i in range(100)], chunk_delay_s=0.1))
    message = ask(person)

    events = stop_after_first_word(live_server_url, person, message)

    message.refresh_from_db()
    assert message.status == Message.Status.CANCELLED
    assert 0 < len(message.text.split()) < 100
    assert events[-1].name == "done" and "Stopped" in events[-1].data
    deadline = time.monotonic() + 5
    while standin.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert standin.disconnects == 1, "the stand-in saw the upstream request closed"
    assert LlmCall.objects.get(message=message, kind="answer").outcome == "cancelled"


def test_a_cancelled_answer_settles_the_quota_to_what_it_used(live_server_url, standin, person):
    standin.script(Reply(chunks=[f"word{i} " for i in range(100)], chunk_delay_s=0.05))
    message = ask(person)
    today = QuotaCounter.objects.get(user=person, period="day")
    assert (today.questions, today.tokens) == (1, message.reserved_tokens)
    stop_after_first_word(live_server_url, person, message)

    message.refresh_from_db()
    assert message.status == Message.Status.CANCELLED and message.quota_settled
    used = sum(c.prompt_tokens + c.completion_tokens for c in message.calls.all())
    today.refresh_from_db()
    assert 0 < used < message.reserved_tokens
    assert (today.questions, today.tokens) == (1, used)


def test_a_closed_tab_cancels_the_answer_and_the_upstream_request(live_server_url, standin, person):
    standin.script(Reply(chunks=[f"word{i} " for i in range(100)], chunk_delay_s=0.1))
    message = ask(person)

    with httpx.stream(
        "GET",
        f"{live_server_url}/chat/messages/{message.pk}/stream",
        cookies=session_cookies(person),
        timeout=30,
    ) as response:
        for event in read_events(response):
            if event.name == "delta":
                break  # the browser goes away

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        message.refresh_from_db()
        if message.is_finished and standin.disconnects:
            break
        time.sleep(0.1)
    assert message.status == Message.Status.CANCELLED
    assert message.text.startswith("word0")
    assert standin.disconnects == 1


def test_streamed_reasoning_never_reaches_the_browser_or_the_stored_answer(
    live_server_url, standin, person
):
    standin.script(
        Reply(text="Each person may ask 200 a day [1].", reasoning="SECRET-CHAIN-OF-THOUGHT")
    )
    message = ask(person)

    events = stream(live_server_url, person, message)

    assert standin.chat_requests()[0]["enable_thinking"] is True
    assert all("SECRET-CHAIN-OF-THOUGHT" not in e.data for e in events)
    message.refresh_from_db()
    assert message.text == "Each person may ask 200 a day [1]."
    assert "SECRET" not in message.html


def test_unknown_citation_markers_are_dropped_and_counted(live_server_url, standin, person):
    standin.script(Reply(text="Two hundred a day [1], see also [7]."))
    message = ask(person)

    stream(live_server_url, person, message)

    message.refresh_from_db()
    assert message.text == "Two hundred a day [1], see also ."
    assert message.unknown_markers == 1
    assert "[7]" not in message.html


def test_xss_in_a_document_and_in_a_model_reply_comes_out_inert(live_server_url, standin, person):
    evil = Collection.objects.get(name="Guide")
    ingest_text(
        evil,
        "evil.html",
        "<h1>Quota policy</h1><p>Limit: 200 a day.</p>"
        "<script>alert('doc')</script><p onclick=\"alert(1)\">Click</p>",
    )
    standin.script(
        Reply(
            text='Limit [1] <img src=x onerror="alert(1)"> <script>alert(2)</script> '
            '[link](javascript:alert(3)) <a href="javascript:alert(4)">x</a>'
        )
    )
    message = ask(person, "What is the quota policy limit?")

    events = stream(live_server_url, person, message)

    message.refresh_from_db()
    for html in (message.html, events[-1].data, "".join(e.data for e in events)):
        assert "<script" not in html and "<img" not in html
        # Whatever remains of the payloads is text, never inside a tag.
        assert not re.search(r"<[^>]*(\son\w+\s*=|javascript:)", html, re.IGNORECASE)
    assert "&lt;script&gt;" in message.html


def test_another_users_conversation_is_unreachable(
    live_server_url, client, person, django_user_model
):
    message = ask(person)
    intruder = django_user_model.objects.create_user("eve", password="pw-eve-123456")
    client.force_login(intruder)
    cookies = session_cookies(intruder)

    responses = [
        client.get(f"/chat/{message.conversation_id}/"),
        client.post(f"/chat/{message.conversation_id}/ask", {"question": "hi"}),
        client.post(f"/chat/messages/{message.pk}/feedback", {"helpful": "1"}),
        client.post(f"/chat/messages/{message.pk}/stop"),
        client.post(f"/chat/{message.conversation_id}/delete"),
    ]
    streamed = httpx.get(f"{live_server_url}/chat/messages/{message.pk}/stream", cookies=cookies)

    assert [r.status_code for r in responses] == [404] * 5
    assert streamed.status_code == 404
    assert Conversation.objects.filter(pk=message.conversation_id).exists()


def test_the_answer_cache_hits_and_respects_access(
    live_server_url, standin, person, django_user_model
):
    first = ask(person)
    stream(live_server_url, person, first)
    second = ask(person, "how many questions may I ask each day")

    stream(live_server_url, person, second)

    second.refresh_from_db()
    assert second.cached and second.text == "The documents say so [1]."
    assert len(standin.chat_requests()) == 1
    # Someone who reads other passages gets another retrieval, hence no shared answer.
    private = Collection.objects.create(name="Private")
    ingest_text(private, "quota-exec.md", "# Quotas\n\nExecutives may ask 900 questions a day.")
    boss = django_user_model.objects.create_user("boss", password="pw-boss-123456")
    private.reader_users.add(boss)
    third = ask(boss)
    stream(live_server_url, boss, third)
    third.refresh_from_db()
    assert not third.cached
    assert len(standin.chat_requests()) == 2


def test_an_answer_written_after_a_private_conversation_is_not_given_to_others(
    live_server_url, standin, person, django_user_model
):
    """The model read the conversation before the question too: an answer written after a talk
    about a document only its asker may read is not served from the cache to anyone else, even
    for the same words over the same passages."""
    guide = Collection.objects.get(name="Guide")
    private = Collection.objects.create(name="Board")
    ingest_text(private, "pay.md", "# Pay\n\nThe chief executive earns 2 million a year.")
    boss = django_user_model.objects.create_user("boss", password="pw-boss-123456")
    private.reader_users.add(boss)
    talk = Conversation.objects.create(owner=boss)
    standin.script(
        Reply(chunks=["The chief executive earns 2 million [1]."]),
        Reply(chunks=["Unlike the 2 million salary, each person may ask 200 a day [1]."]),
        Reply(chunks=["Each person may ask 200 a day [1]."]),
    )
    turns = [("What does the chief executive earn?", private), (QUESTION, guide)]
    for question, collection in turns:
        asked = conversations.ask(
            conversation=talk, question=question, high_accuracy=False, collections=[collection]
        )
        stream(live_server_url, boss, asked)

    theirs = ask(person, QUESTION)
    stream(live_server_url, person, theirs)

    theirs.refresh_from_db()
    assert not theirs.cached
    assert "2 million" not in theirs.text
    assert len(standin.chat_requests()) == 3
    # Without a conversation before it, the same question is still answered from the cache.
    again = ask(person, QUESTION)
    stream(live_server_url, person, again)
    again.refresh_from_db()
    assert again.cached and again.text == theirs.text


def test_a_question_nothing_matches_makes_no_answer_call(live_server_url, standin, person):
    message = ask(person, "What is the best recipe for chocolate cake?")

    stream(live_server_url, person, message)

    message.refresh_from_db()
    assert message.content_gap
    assert "Nothing in the documents you can read matches" in message.text
    assert standin.chat_requests() == []


def test_a_weak_match_goes_to_the_model_which_may_say_it_is_not_covered(
    live_server_url, standin, person
):
    standin.script(Reply(text="The documents do not cover uploading videos."))
    message = ask(person, "Can I upload videos to the wiki?")

    stream(live_server_url, person, message)

    message.refresh_from_db()
    assert message.content_gap, "the model's reply is recorded as a content gap"
    assert message.text == "The documents do not cover uploading videos."
    (sent,) = standin.chat_requests()
    assert "Files up to 50 MB are accepted" in sent["messages"][-1]["content"]
    assert message.citations.filter(source_path="guide.md").exists(), "closest sources shown"


@pytest.mark.parametrize(
    ("first", "then", "query"),
    [
        ("How do I upload documents?", "and how large may they be?", "maximum upload file size"),
        ("怎么上传文档？", "那文件最大可以多大？", "上传文件的大小上限"),
        ("How do I upload documents?", "What is the daily limit?", "daily question limit"),
    ],
    ids=["en-follow-up", "zh-follow-up", "new-topic"],
)
def test_with_a_key_the_fast_model_rewrites_each_question_with_the_conversation(
    live_server_url, standin, person, first, then, query
):
    first_message = ask(person, first)
    stream(live_server_url, person, first_message)
    standin.script_completion(Reply(text=query))
    follow_up = conversations.ask(
        conversation=first_message.conversation, question=then, high_accuracy=False
    )

    stream(live_server_url, person, follow_up)

    follow_up.refresh_from_db()
    rewrite = standin.completion_requests()[-1]["messages"]
    assert [m["content"] for m in rewrite if m["role"] == "user"] == [first, then]
    assert "If it starts a new topic" in rewrite[0]["content"]
    assert follow_up.standalone_question == query
    # The answer itself is asked in the user's own words, with the conversation before it.
    assert then in standin.chat_requests()[-1]["messages"][-1]["content"]
    assert LlmCall.objects.filter(message=follow_up, kind="rewrite").exists()


# Four passages that all speak of scanned PDFs, each with a word no other holds.
SCANS = {
    "ocr.md": "# OCR\n\nScanned PDFs need OCR first: alpha the text layer comes from it.",
    "pages.md": "# Pages\n\nScanned PDFs are read page by page: bravo each page is an image.",
    "limits.md": "# Limits\n\nScanned PDFs count against the OCR page limit: charlie 300 pages.",
    "fonts.md": "# Fonts\n\nScanned PDFs lose their fonts: delta the OCR text is plain.",
}
MARKERS = {"alpha": "ocr.md", "bravo": "pages.md", "charlie": "limits.md", "delta": "fonts.md"}


def scanned_pdf_guides() -> None:
    collection = Collection.objects.get(name="Guide")
    for name, text in SCANS.items():
        ingest_text(collection, name, text)


def marked(texts: list[str]) -> list[str]:
    """The marked passages among `texts`, in their order."""
    return [MARKERS[m] for text in texts for m in MARKERS if m in text]


def prompt_order(request: dict) -> list[str]:
    """The marked passages in the order the answer's prompt numbers them."""
    prompt = request["messages"][-1]["content"]
    return [name for _, name in sorted((prompt.index(m), name) for m, name in MARKERS.items())]


def test_reranking_orders_the_passages_and_its_usage_is_recorded(live_server_url, standin, person):
    scanned_pdf_guides()
    # Scores that rise with the position sent: the reranker reverses the fused order.
    standin.script_rerank(Reply(scores=[float(i) for i in range(100)]))
    message = ask(person, "Scanned PDFs need what first?")

    stream(live_server_url, person, message)

    (rerank,) = standin.rerank_requests()
    assert rerank["input"]["query"] == "Scanned PDFs need what first?"
    fused = marked(rerank["input"]["documents"])
    assert sorted(fused) == sorted(MARKERS.values())
    (answer,) = standin.chat_requests()
    assert prompt_order(answer) == fused[::-1]
    call = LlmCall.objects.get(message=message, kind="rerank")
    assert call.prompt_tokens > 0 and call.model == "gte-rerank-v2"


@pytest.mark.parametrize(
    "fault",
    [Reply(status=500), Reply(hang_s=5)],  # the live server's timeout is 1.5 s
    ids=["500", "timeout"],
)
def test_a_failed_rerank_keeps_the_fused_order_and_the_answer(
    live_server_url, standin, person, fault
):
    scanned_pdf_guides()
    standin.script_rerank(fault)
    message = ask(person, "Scanned PDFs need what first?")

    stream(live_server_url, person, message)

    message.refresh_from_db()
    assert message.status == "succeeded"
    (rerank,) = standin.rerank_requests()  # one attempt, never retried
    (answer,) = standin.chat_requests()
    assert prompt_order(answer) == marked(rerank["input"]["documents"])
    assert not LlmCall.objects.filter(message=message, kind="rerank").exists()


def test_thumbs_down_answers_are_listed_for_admins(client, admin_client, person):
    message = ask(person)
    Message.objects.filter(pk=message.pk).update(status="succeeded", text="Wrong answer [1].")
    client.force_login(person)

    client.post(
        f"/chat/messages/{message.pk}/feedback",
        {"helpful": "0", "comment": "It cites the wrong page"},
    )
    page = admin_client.get("/admin/assistant/feedback/?helpful__exact=0").content.decode()

    assert "It cites the wrong page" in page
    assert "How many questions may I ask each day?" in page
    assert "Wrong answer" in page


def test_a_failed_query_rewrite_is_a_recorded_call_and_the_answer_goes_on(
    live_server_url, standin, person
):
    standin.script_completion(Reply(status=500))
    standin.script(Reply(text="Two hundred [1]."))
    message = ask(person)

    stream(live_server_url, person, message)

    message.refresh_from_db()
    assert (message.status, message.text) == ("succeeded", "Two hundred [1].")
    assert message.standalone_question == QUESTION, "searched as asked"
    rewrite = LlmCall.objects.get(message=message, kind="rewrite")
    assert (rewrite.outcome, rewrite.model) == ("error", "qwen-turbo")
