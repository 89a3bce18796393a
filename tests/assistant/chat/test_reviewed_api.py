"""Reviewed answers over the JSON API, against the live ASGI server: the staff role writes,
lists, reads, changes and deletes them; an ask served from one says so."""

from __future__ import annotations

import json

import httpx
import pytest
from django.contrib.auth.models import Group

from assistant.audit.models import AuditEntry
from assistant.chat.models import ReviewedAnswer
from ingest.models import Collection
from tests.assistant.chat.test_api import api, token_for
from tests.support.documents import ingest_text
from tests.support.sse import read_events

GUIDE = """# Quotas

Each person may ask 200 questions a day. Administrators can raise the limit for a group.
"""
PARAPHRASE = "How many questions am I allowed to ask per day?"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def guide(django_user_model):
    sam = django_user_model.objects.create_user("sam", password="pw-sam-123456")
    sam.groups.add(Group.objects.get(name="staff"))
    django_user_model.objects.create_user("ann", password="pw-ann-123456")
    return ingest_text(Collection.objects.create(name="Guide", is_public=True), "guide.md", GUIDE)


def body(guide) -> dict:
    return {
        "question": "How many questions may I ask each day?",
        "answer": "You may ask 200 questions a day [1].",
        "collection_ids": [guide.collection_id],
        "variants": ["每天可以问多少个问题？"],
        "citations": [{"document_id": guide.pk, "page": 1}],
    }


def test_staff_write_list_read_change_and_delete_a_reviewed_answer(live_server_url, guide):
    sam = api(live_server_url, token_for("sam"))

    created = sam.post("/reviewed-answers", json=body(guide))
    assert created.status_code == 201, created.text
    reviewed_id = created.json()["id"]
    listed = sam.get("/reviewed-answers").json()
    one = sam.get(f"/reviewed-answers/{reviewed_id}").json()
    changed = sam.patch(f"/reviewed-answers/{reviewed_id}", json={"variants": ["Daily limit?"]})
    deleted = sam.delete(f"/reviewed-answers/{reviewed_id}")

    assert [r["id"] for r in listed] == [reviewed_id]
    assert one["collection_ids"] == [guide.collection_id] and one["reviewed_by"] == "sam"
    assert one["citations"] == [
        {"n": 1, "document_id": guide.pk, "page": 1, "title": "Quotas", "document_version": 1}
    ]
    assert changed.status_code == 200 and changed.json()["variants"] == ["Daily limit?"]
    assert changed.json()["answer"] == body(guide)["answer"], "what is not given stays"
    assert deleted.status_code == 204
    assert sam.get(f"/reviewed-answers/{reviewed_id}").status_code == 404
    assert not ReviewedAnswer.objects.exists()


def test_a_user_without_the_staff_role_is_refused(live_server_url, guide):
    ann = api(live_server_url, token_for("ann"))

    refused = [ann.post("/reviewed-answers", json=body(guide)), ann.get("/reviewed-answers")]

    assert [r.status_code for r in refused] == [403, 403]
    assert refused[0].json()["error"]["code"] == "forbidden"


def test_an_unreadable_collection_or_document_is_not_found(live_server_url, guide):
    hidden = Collection.objects.create(name="Board")
    secret = ingest_text(hidden, "minutes.md", "# Minutes\n\nNothing to see.")
    sam = api(live_server_url, token_for("sam"))

    refused = [
        sam.post("/reviewed-answers", json=body(guide) | {"collection_ids": [hidden.pk]}),
        sam.post(
            "/reviewed-answers", json=body(guide) | {"citations": [{"document_id": secret.pk}]}
        ),
    ]

    assert [r.status_code for r in refused] == [404, 404]


def test_an_ask_served_from_a_reviewed_answer_says_which(live_server_url, standin, guide):
    reviewed_id = api(live_server_url, token_for("sam")).post("/reviewed-answers", json=body(guide))
    reviewed_id = reviewed_id.json()["id"]
    token = token_for("ann")

    with httpx.stream(
        "POST",
        f"{live_server_url}/api/v1/ask",
        json={"question": PARAPHRASE, "stream": True},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ) as response:
        events = list(read_events(response))
    instead = api(live_server_url, token).post(
        "/ask", json={"question": PARAPHRASE, "use_reviewed_answers": False}
    )

    done = json.loads(events[-1].data)
    assert done["reviewed_answer_id"] == reviewed_id
    assert done["answer"] == "You may ask 200 questions a day [1]."
    assert done["citations"][0]["document_id"] == guide.pk
    assert done["usage"]["cost_usd"] == 0 and standin.chat_requests() == [standin.requests[-1]]
    assert instead.json()["reviewed_answer_id"] is None


def test_a_flagged_answer_is_confirmed_by_patching_needs_review(live_server_url, guide):
    sam = api(live_server_url, token_for("sam"))
    reviewed_id = sam.post("/reviewed-answers", json=body(guide)).json()["id"]
    ingest_text(guide.collection, "guide.md", GUIDE.replace("200", "250"))

    flagged = sam.get("/reviewed-answers", params={"needs_review": True}).json()
    confirmed = sam.patch(f"/reviewed-answers/{reviewed_id}", json={"needs_review": False})

    assert [r["id"] for r in flagged] == [reviewed_id]
    assert confirmed.json()["needs_review"] is False
    assert confirmed.json()["citations"][0]["document_version"] == 2


def test_every_change_to_a_reviewed_answer_is_in_the_audit_log(live_server_url, guide):
    sam = api(live_server_url, token_for("sam"))

    reviewed_id = sam.post("/reviewed-answers", json=body(guide)).json()["id"]
    sam.patch(f"/reviewed-answers/{reviewed_id}", json={"variants": ["Daily limit?"]})
    sam.delete(f"/reviewed-answers/{reviewed_id}")

    entries = list(
        AuditEntry.objects.filter(object_type="assistant.reviewedanswer").order_by("at", "pk")
    )
    assert [e.action for e in entries] == [
        "reviewed_answer.created",
        "reviewed_answer.changed",
        "reviewed_answer.deleted",
    ]
    assert {e.actor_name for e in entries} == {"sam"}
    assert {e.object_id for e in entries} == {str(reviewed_id)}
    assert entries[1].changes == {"variants": [["每天可以问多少个问题？"], ["Daily limit?"]]}
