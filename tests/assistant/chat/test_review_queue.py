"""The review queue (staff): thumbs-down answers, questions not covered and upgraded drafts,
each resolved by a reviewed answer, a content gap or a dismissal; its counts on the usage
dashboard and its CSV."""

from __future__ import annotations

import csv
import io

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Group
from django.test import Client

from assistant.chat import conversations
from assistant.chat.answers import drain
from assistant.chat.models import Conversation, Feedback, Message, Review, ReviewedAnswer
from ingest.models import Collection
from tests.support.documents import ingest_text

GUIDE = """# Quotas

Each person may ask 200 questions a day. Administrators can raise the limit for a group.
"""

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def guide():
    return ingest_text(Collection.objects.create(name="Guide", is_public=True), "guide.md", GUIDE)


@pytest.fixture
def ann(django_user_model):
    return django_user_model.objects.create_user("ann", password="pw-ann-123456")


@pytest.fixture
def staff(django_user_model) -> Client:
    sam = django_user_model.objects.create_user("sam", password="pw-sam-123456")
    sam.groups.add(Group.objects.get(name="staff"))
    client = Client()
    client.force_login(sam)
    return client


def answered(ann, question: str, text: str, **fields) -> Message:
    conversation = Conversation.objects.create(owner=ann)
    Message.objects.create(
        conversation=conversation, role="user", text=question, status="succeeded"
    )
    return Message.objects.create(
        conversation=conversation,
        role="assistant",
        text=text,
        html=f"<p>{text}</p>",
        status="succeeded",
        **fields,
    )


@pytest.fixture
def queue(ann, guide):
    voted = answered(ann, "How many questions a day?", "Fifty a day.")
    Feedback.objects.create(message=voted, user=ann, helpful=False, comment="It is 200, not 50")
    return {
        "voted": voted,
        "gap": answered(
            ann, "Can I upload videos?", "The documents do not cover videos.", content_gap=True
        ),
        "upgraded": answered(
            ann, "Who raises limits?", "Admins [1].", upgraded=True, draft_text="No idea."
        ),
        "fine": answered(ann, "What is a quota?", "A limit [1]."),
    }


def test_the_queue_gathers_thumbs_down_not_covered_and_upgraded_answers(staff, queue):
    page = staff.get("/review/").content.decode()

    for name in ("voted", "gap", "upgraded"):
        assert f'id="item-{queue[name].pk}"' in page
    assert f'id="item-{queue["fine"].pk}"' not in page
    assert "It is 200, not 50" in page and "Rated “Not helpful”" in page
    assert "No idea." in page, "an upgraded answer shows its draft"
    only_gaps = staff.get("/review/", {"reason": "not_covered"}).content.decode()
    assert f'id="item-{queue["gap"].pk}"' in only_gaps
    assert f'id="item-{queue["voted"].pk}"' not in only_gaps


def test_a_reviewed_answer_written_from_an_item_resolves_it_and_answers_the_next_question(
    staff, queue, guide, ann, settings
):
    settings.ANSWER_PROVIDER = "extractive"
    voted = queue["voted"]
    form = staff.get(f"/review/answers/{voted.pk}/write").content.decode()
    assert "How many questions a day?" in form

    saved = staff.post(
        f"/review/answers/{voted.pk}/write",
        {
            "question": "How many questions may I ask each day?",
            "answer": "Each person may ask 200 questions a day [1].",
            "variants": "Daily question limit\n每天可以问多少个问题？",
            "collections": [guide.collection_id],
            "citations": f"{guide.pk} p1",
        },
    )

    assert saved.status_code == 302
    review = Review.objects.get(message=voted)
    assert review.resolution == "answered" and review.reviewed_answer.variants == [
        "Daily question limit",
        "每天可以问多少个问题？",
    ]
    assert f'id="item-{voted.pk}"' not in staff.get("/review/").content.decode()
    next_time = conversations.ask(
        conversation=Conversation.objects.create(owner=ann),
        question="How many questions am I allowed to ask per day?",
        high_accuracy=False,
    )
    async_to_sync(drain)(next_time, user=ann)
    next_time.refresh_from_db()
    assert next_time.reviewed_answer == review.reviewed_answer


def test_a_content_gap_names_a_document_or_collection_and_a_dismissal_a_reason(staff, queue, guide):
    gap, upgraded = queue["gap"], queue["upgraded"]

    unnamed = staff.post(f"/review/answers/{gap.pk}/resolve", {"resolution": "content_gap"})
    named = staff.post(
        f"/review/answers/{gap.pk}/resolve",
        {"resolution": "content_gap", "collection": guide.collection_id, "note": "videos"},
    )
    silent = staff.post(f"/review/answers/{upgraded.pk}/resolve", {"resolution": "dismissed"})
    assert not Review.objects.filter(message=upgraded).exists()
    dismissed = staff.post(
        f"/review/answers/{upgraded.pk}/resolve", {"resolution": "dismissed", "note": "fine now"}
    )

    assert [r.status_code for r in (unnamed, named, silent, dismissed)] == [302] * 4
    assert Review.objects.get(message=gap).collection == guide.collection
    assert Review.objects.get(message=upgraded).note == "fine now"


def test_someone_without_the_staff_role_cannot_see_or_work_the_queue(client, ann, queue):
    client.force_login(ann)

    refused = [
        client.get("/review/"),
        client.get("/review/export.csv"),
        client.post(f"/review/answers/{queue['gap'].pk}/resolve", {"resolution": "dismissed"}),
    ]

    assert [r.status_code for r in refused] == [403, 403, 403]


def test_the_csv_lists_open_and_resolved_answers_with_how_they_were_resolved(staff, queue):
    staff.post(
        f"/review/answers/{queue['gap'].pk}/resolve", {"resolution": "dismissed", "note": "spam"}
    )

    response = staff.get("/review/export.csv")

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_id = {int(row["message_id"]): row for row in rows}
    assert set(by_id) == {queue["voted"].pk, queue["gap"].pk, queue["upgraded"].pk}
    assert by_id[queue["gap"].pk]["resolution"] == "dismissed"
    assert by_id[queue["voted"].pk]["comment"] == "It is 200, not 50"


def test_the_usage_dashboard_counts_what_waits(admin_client, queue):
    page = admin_client.get("/usage/").content.decode()

    assert "3 answers wait for review" in page
    assert "1 rated “Not helpful”, 1 not covered, 1 answered again" in page


def test_a_flagged_reviewed_answer_is_confirmed_from_the_queue(staff, guide, ann):
    staff.post(
        "/review/new",
        {
            "question": "How many questions may I ask each day?",
            "answer": "200 [1].",
            "collections": [guide.collection_id],
            "citations": str(guide.pk),
        },
    )
    reviewed = ReviewedAnswer.objects.get()
    ingest_text(guide.collection, "guide.md", GUIDE.replace("200", "250"))

    page = staff.get("/review/").content.decode()
    staff.post(f"/review/reviewed/{reviewed.pk}/confirm")

    assert f'id="reviewed-{reviewed.pk}"' in page
    reviewed.refresh_from_db()
    assert not reviewed.needs_review


def test_staff_reach_the_form_from_an_answer_in_the_chat_and_from_a_search_result(
    staff, guide, ann, settings
):
    settings.ANSWER_PROVIDER = "extractive"
    sam = Group.objects.get(name="staff").user_set.get()
    own = answered(sam, "How many questions a day?", "200 [1].")

    chat = staff.get(f"/chat/{own.conversation_id}/").content.decode()
    search = staff.get("/search/", {"q": "questions a day"}).content.decode()
    prefilled = staff.get("/review/new", {"q": "questions a day", "document": guide.pk, "page": 1})
    client = Client()
    client.force_login(ann)

    assert f"/review/answers/{own.pk}/write" in chat
    assert f"/review/new?q=questions%20a%20day&amp;document={guide.pk}" in search
    assert 'value="questions a day"' in prefilled.content.decode()
    assert f"{guide.pk} p1" in prefilled.content.decode()
    assert "/review/" not in client.get("/search/", {"q": "questions a day"}).content.decode()


def test_saving_in_the_admin_reviews_it_now(admin_client, admin_user, guide):
    saved = admin_client.post(
        "/admin/assistant/reviewedanswer/add/",
        {
            "question": "How many questions may I ask each day?",
            "answer": "200 [1].",
            "variants": '["每天可以问多少个问题？"]',
            "collections": [guide.collection_id],
            "citations-TOTAL_FORMS": "1",
            "citations-INITIAL_FORMS": "0",
            "citations-0-n": "1",
            "citations-0-document": str(guide.pk),
            "citations-0-page": "",
        },
    )

    assert saved.status_code == 302, saved.content.decode()[:2000]
    reviewed = ReviewedAnswer.objects.get()
    assert reviewed.reviewed_by == admin_user and len(reviewed.vectors) == 2
    assert reviewed.citations.get().document_version == guide.version
