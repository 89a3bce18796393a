"""Answers that get better, in headless Chromium: a support lead works the review queue (reads a
thumbs-down answer and its comment, writes the reviewed answer, sees it served to the next
question like it), and a reader watches a doubtful draft replaced by the strong model's."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group

from assistant.chat.models import Conversation, Feedback, Message, Review
from ingest.models import Collection
from tests.assistant.test_browser import ARTIFACTS, chromium, watch_for_csp_violations
from tests.conftest import qwen_env, worker_database_url
from tests.support import app_server
from tests.support.documents import ingest_text
from tests.support.qwen_standin import Reply

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
GUIDE = """# Quotas

Each person may ask 200 questions a day. Administrators can raise the limit for a group.
"""
FIXED = "Each person may ask **200 questions a day**; an admin can raise it for a group [1]."


def test_a_support_lead_fixes_a_wrong_answer_once_and_the_fix_is_served_next_time(
    live_server_url, standin, django_user_model
):
    guide = ingest_text(Collection.objects.create(name="Guide", is_public=True), "guide.md", GUIDE)
    ann = django_user_model.objects.create_user("ann", password="pw-ann-123456")
    lead = django_user_model.objects.create_user("lee", password="pw-lee-123456")
    lead.groups.add(Group.objects.get(name="staff"))
    conversation = Conversation.objects.create(owner=ann)
    Message.objects.create(
        conversation=conversation, role="user", text="How many questions a day?", status="succeeded"
    )
    wrong = Message.objects.create(
        conversation=conversation,
        role="assistant",
        text="Fifty a day.",
        html="<p>Fifty a day.</p>",
        status="succeeded",
    )
    Feedback.objects.create(message=wrong, user=ann, helpful=False, comment="It is 200, not 50")

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        violations = watch_for_csp_violations(page)
        page.goto(f"{live_server_url}/review/")
        page.fill("#id_username", "lee")
        page.fill("#id_password", "pw-lee-123456")
        page.click("button[type=submit]")
        page.wait_for_url("**/review/")
        item = page.locator(f"#item-{wrong.pk}")
        comment = item.locator(".comment").inner_text()
        page.screenshot(path=ARTIFACTS / "review-queue.png", full_page=True)

        item.get_by_role("link", name="Write a reviewed answer").click()
        page.wait_for_url(f"**/review/answers/{wrong.pk}/write")
        page.fill("#id_answer", FIXED)
        page.fill("#id_variants", "每天可以问多少个问题？")
        page.fill("#id_citations", f"{guide.pk}")
        page.get_by_label("Guide").check()
        page.screenshot(path=ARTIFACTS / "review-answer.png", full_page=True)
        page.get_by_role("button", name="Save the reviewed answer").click()
        page.wait_for_url("**/review/")
        emptied = page.locator(f"#item-{wrong.pk}").count()

        page.goto(f"{live_server_url}/chat/")
        page.fill("textarea[name=question]", "我每天最多可以问几个问题？")
        page.keyboard.press("Enter")
        label = page.locator(".message.assistant .reviewed").last
        label.wait_for(timeout=30000)
        served_label = label.inner_text()
        served_text = page.locator(".message.assistant .answer").last.inner_text()
        instead = page.get_by_role("button", name="Ask the documents instead").count()
        source = page.locator(".message.assistant .sources a").last.inner_text()
        page.screenshot(path=ARTIFACTS / "review-served.png", full_page=True)

    assert comment == "It is 200, not 50"
    assert emptied == 0
    assert Review.objects.get(message=wrong).resolution == "answered"
    assert served_label.startswith("Reviewed by lee on")
    assert "200 questions a day" in served_text
    assert instead == 1
    assert source == "Quotas"
    assert standin.chat_requests() == [], "no model wrote the served answer"
    assert violations == []


@pytest.fixture
def upgrading_server_url(standin) -> Iterator[str]:
    """The app as in production, draft -> final on (the session's live server has it off)."""
    env = (
        os.environ
        | qwen_env(standin)
        | {
            "DATABASE_URL": worker_database_url(),
            "AUTO_UPGRADE": "true",
            "LLM_TIMEOUT_S": "5",
        }
    )
    server, url = app_server.start(env)
    yield url
    server.terminate()
    server.wait(timeout=20)


def test_a_doubtful_draft_is_replaced_in_the_browser_by_the_strong_models_answer(
    upgrading_server_url, standin, django_user_model
):
    ingest_text(Collection.objects.create(name="Guide", is_public=True), "guide.md", GUIDE)
    django_user_model.objects.create_user("ann", password="pw-ann-123456")
    standin.by_model |= {
        "qwen-plus": Reply(text="The documents do not cover daily limits.", chunk_delay_s=0.05),
        "qwen-max": Reply(
            chunks=["Each ", "person ", "may ", "ask ", "200 ", "a day ", "[1]."],
            first_token_delay_s=1.5,
            chunk_delay_s=0.2,
        ),
    }
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        violations = watch_for_csp_violations(page)
        page.goto(f"{upgrading_server_url}/chat/")
        page.fill("#id_username", "ann")
        page.fill("#id_password", "pw-ann-123456")
        page.click("button[type=submit]")
        page.wait_for_url("**/chat/*/")
        page.fill("textarea[name=question]", "How many questions may I ask each day?")
        page.keyboard.press("Enter")
        state = page.locator(".message.assistant .state")
        state.filter(has_text="Checking with a stronger model…").wait_for(timeout=30000)
        # The draft's text is gone while the strong model is asked.
        page.wait_for_function(
            "() => !document.querySelector('.answer.live').textContent.includes('do not cover')"
        )
        page.screenshot(path=ARTIFACTS / "upgrading.png")
        page.locator("a.cite").first.wait_for(timeout=30000)
        final = page.locator(".message.assistant .answer").last.inner_text()
        checked = page.locator(".message.assistant .muted.small", has_text="stronger model").count()

    assert final.startswith("Each person may ask 200 a day")
    assert "do not cover" not in final
    assert checked == 1
    assert [body["model"] for body in standin.chat_requests()] == ["qwen-plus", "qwen-max"]
    assert violations == []
