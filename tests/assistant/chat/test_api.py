"""The JSON API as an integrator uses it: bearer tokens against the live ASGI server."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from io import StringIO

import httpx
import pytest
from django.core.management import call_command

from assistant.accounts.models import ApiToken, QuotaCounter, QuotaOverride
from assistant.chat import conversations
from assistant.chat.models import Conversation, Message
from ingest.models import Collection
from tests.conftest import LIVE_SERVER_MAX_OPEN_STREAMS
from tests.support.documents import ingest_text
from tests.support.qwen_standin import Reply
from tests.support.sse import read_events

GUIDE = """# Quotas

Each person may ask 200 questions a day. Administrators can raise the limit for a group.
"""
SECRET = """# Salaries

The salary bands for 2027 are confidential and reviewed every March.
"""

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people(django_user_model):
    guide = Collection.objects.create(name="Guide", is_public=True)
    ingest_text(guide, "guide.md", GUIDE)
    private = Collection.objects.create(name="HR")
    ingest_text(private, "salaries.md", SECRET)
    ann = django_user_model.objects.create_user("ann", password="pw-ann-123456")
    bob = django_user_model.objects.create_user("bob", password="pw-bob-123456")
    private.reader_users.add(bob)
    return {"ann": ann, "bob": bob, "private": private}


def token_for(username: str) -> str:
    out = StringIO()
    call_command("create_api_token", username, stdout=out)
    return out.getvalue().strip()


def api(live_server_url: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{live_server_url}/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_a_token_asks_and_gets_a_cited_answer_as_json(live_server_url, standin, people):
    standin.script(Reply(text="Each person may ask 200 questions a day [1].", prompt_tokens=99))
    client = api(live_server_url, token_for("ann"))

    reply = client.post("/ask", json={"question": "How many questions a day?"})

    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["status"] == "succeeded"
    assert body["answer"] == "Each person may ask 200 questions a day [1]."
    [citation] = body["citations"]
    assert citation["n"] == 1 and citation["source_path"] == "guide.md"
    assert {"document_id", "title", "chunk_id", "page"} <= citation.keys()
    assert body["usage"]["prompt_tokens"] == 99 and body["usage"]["total_tokens"] > 99
    assert client.get(f"/messages/{body['message_id']}").json()["answer"] == body["answer"]


def test_a_streamed_answer_ends_with_one_done_event_carrying_the_json(
    live_server_url, standin, people
):
    standin.script(Reply(chunks=["Each ", "person ", "may ", "ask ", "200 [1]."]))
    token = token_for("ann")

    with httpx.stream(
        "POST",
        f"{live_server_url}/api/v1/ask",
        json={"question": "How many questions a day?", "stream": True},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = list(read_events(response))

    deltas = [json.loads(e.data)["text"] for e in events if e.name == "delta"]
    assert "".join(deltas) == "Each person may ask 200 [1]."
    assert [e.name for e in events].count("done") == 1 and events[-1].name == "done"
    done = json.loads(events[-1].data)
    assert done["answer"] == "Each person may ask 200 [1]." and done["status"] == "succeeded"
    assert done["citations"][0]["source_path"] == "guide.md"
    assert set(done) >= {"answer", "citations", "usage", "message_id", "status"}


def test_a_revoked_token_stops_working_at_once(live_server_url, client, people):
    token = token_for("ann")
    working = api(live_server_url, token).get("/usage")
    assert working.status_code == 200 and working.json()["questions_today"] == 0

    client.force_login(people["ann"])
    assert client.post(f"/account/tokens/{ApiToken.objects.get().pk}/revoke").status_code == 302
    assert ApiToken.objects.get().revoked_at is not None

    refused = api(live_server_url, token).get("/usage")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"


def test_a_token_reaches_nothing_of_another_user_or_an_unreadable_collection(
    live_server_url, standin, people
):
    bob = api(live_server_url, token_for("bob"))
    answer = bob.post("/ask", json={"question": "When are salary bands reviewed?"}).json()
    conversation_id, message_id = answer["conversation_id"], answer["message_id"]
    assert answer["citations"][0]["source_path"] == "salaries.md"
    private = people["private"]
    document_id = private.documents.get().pk

    ann = api(live_server_url, token_for("ann"))
    attempts = [
        ann.get(f"/conversations/{conversation_id}"),
        ann.delete(f"/conversations/{conversation_id}"),
        ann.get(f"/messages/{message_id}"),
        ann.post(f"/messages/{message_id}/feedback", json={"helpful": False}),
        ann.post("/ask", json={"question": "Salary bands?", "conversation_id": conversation_id}),
        ann.post("/ask", json={"question": "Salary bands?", "collection_ids": [private.pk]}),
        ann.get(f"/documents/{document_id}"),
        ann.delete(f"/documents/{document_id}"),
        ann.post(f"/collections/{private.pk}/documents", files={"files": ("a.txt", b"x")}),
    ]
    assert [r.status_code for r in attempts] == [404] * len(attempts)
    assert all(r.json()["error"]["code"] == "not_found" for r in attempts)
    assert ann.get("/conversations").json() == []
    assert private.pk not in [c["id"] for c in ann.get("/collections").json()]
    found = ann.post(
        "/search", json={"query": "salary bands March", "collection_ids": [private.pk]}
    )
    assert found.json()["passages"] == []
    anything = ann.post("/search", json={"query": "salary bands confidential March", "k": 50})
    assert "salaries.md" not in {p["source_path"] for p in anything.json()["passages"]}
    assert Conversation.objects.filter(pk=conversation_id).exists()


def test_conversations_messages_feedback_and_usage(live_server_url, standin, people):
    client = api(live_server_url, token_for("ann"))
    first = client.post("/ask", json={"question": "How many questions a day?"}).json()
    follow_up = client.post(
        "/ask", json={"question": "And for a group?", "conversation_id": first["conversation_id"]}
    ).json()
    assert follow_up["conversation_id"] == first["conversation_id"]

    [listed] = client.get("/conversations").json()
    assert listed["title"] == "How many questions a day?"
    detail = client.get(f"/conversations/{listed['id']}").json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"] * 2

    rated = client.post(
        f"/messages/{first['message_id']}/feedback", json={"helpful": False, "comment": "Vague"}
    )
    assert rated.json() == {"message_id": first["message_id"], "helpful": False, "comment": "Vague"}

    usage = client.get("/usage").json()
    assert usage["questions_today"] == 2
    assert usage["questions_left"] == usage["questions_per_day"] - 2
    assert usage["tokens_today"] > 0

    assert client.delete(f"/conversations/{listed['id']}").status_code == 204
    assert client.get("/conversations").json() == []


def test_over_quota_is_a_429_with_retry_after_and_a_plain_message(live_server_url, people):
    QuotaOverride.objects.create(user=people["ann"], questions_per_day=3)
    client = api(live_server_url, token_for("ann"))

    def ask(i: int) -> httpx.Response:
        return client.post("/ask", json={"question": f"Question number {i}?"})

    asks = 10
    assert asks < LIVE_SERVER_MAX_OPEN_STREAMS, "only the quota may refuse"
    with ThreadPoolExecutor(max_workers=asks) as pool:
        replies = list(pool.map(ask, range(asks)))

    assert sorted(r.status_code for r in replies) == [200] * 3 + [429] * 7
    codes = [r.json()["error"]["code"] for r in replies if r.status_code == 429]
    assert codes == ["quota_exceeded"] * 7
    assert QuotaCounter.objects.get(user=people["ann"], period="day").questions == 3
    refusal = ask(11)
    assert refusal.status_code == 429 and refusal.json()["error"]["code"] == "quota_exceeded"
    assert 0 < int(refusal.headers["Retry-After"]) <= 86_400
    assert "3 questions for today" in refusal.json()["error"]["message"]


def test_abuse_limits_too_large_too_long_too_many_open(live_server_url, people, settings):
    client = api(live_server_url, token_for("ann"))
    huge = client.post(
        "/ask",
        content=json.dumps({"question": "x" * (3 * 1024 * 1024)}),
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "too_large"

    nul = client.post("/ask", json={"question": "why\u0000?"})
    assert nul.status_code == 422 and "NUL" in nul.json()["error"]["message"]

    too_long = client.post("/ask", json={"question": "x" * 5000})
    assert too_long.status_code == 422 and "question" in too_long.json()["error"]["message"]

    blank = client.post("/ask", json={"question": " \n\t "})
    assert blank.status_code == 422 and "blank" in blank.json()["error"]["message"]
    assert not Message.objects.filter(conversation__owner=people["ann"]).exists(), "not charged"

    many = client.post("/search", json={"query": "quota", "collection_ids": list(range(250_000))})
    assert many.status_code == 422 and "collection_ids" in many.json()["error"]["message"]

    settings.MAX_OPEN_STREAMS_PER_USER = LIVE_SERVER_MAX_OPEN_STREAMS  # the server's limit
    conversation = Conversation.objects.create(owner=people["ann"])
    for _ in range(LIVE_SERVER_MAX_OPEN_STREAMS):
        conversations.ask(conversation=conversation, question="Still open?", high_accuracy=False)
    busy = client.post("/ask", json={"question": "One more?"})
    assert busy.status_code == 429 and busy.json()["error"]["code"] == "too_many_open_answers"
    assert Message.objects.filter(text="One more?").count() == 0


def test_the_schema_is_valid_and_a_property_based_run_finds_no_server_errors(
    live_server_url, people, tmp_path
):
    QuotaOverride.objects.create(user=people["ann"], questions_per_day=0, tokens_per_day=0)
    token = token_for("ann")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{live_server_url}/api/openapi.json",
            "--checks",
            "not_a_server_error",
            "--header",
            f"Authorization: Bearer {token}",
            "--max-examples",
            "12",
            "--seed",
            "7",
            "--request-timeout",
            "30",
        ],
        # Its example database (.hypothesis/) goes with the test, not into the checkout: each run
        # starts from the seed alone.
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
