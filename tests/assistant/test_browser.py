"""A person in headless Chromium (Debian's, driven by Playwright): ask, watch the answer stream,
follow a citation to the highlighted passage, and stop an answer. Screenshots go to
TEST_ARTIFACTS_DIR (the session's summary says where)."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from assistant.chat.models import Message
from ingest.models import Collection
from tests.support.documents import ingest_text
from tests.support.qwen_standin import Reply

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(os.environ["TEST_ARTIFACTS_DIR"])
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
GUIDE = """# Quotas

Each person may ask 200 questions a day. Administrators can raise the limit for a group.
"""


@contextmanager
def chromium():
    """Playwright runs an event loop in this thread: touch the ORM only outside this block."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


def test_a_person_asks_watches_the_answer_stream_follows_a_citation_and_stops(
    live_server_url, standin, django_user_model
):
    ingest_text(Collection.objects.create(name="Guide", is_public=True), "guide.md", GUIDE)
    django_user_model.objects.create_user("ann", password="pw-ann-123456")
    standin.script(
        Reply(
            chunks=["Each ", "person ", "may ", "ask ", "**200** ", "questions ", "a day ", "[1]."],
            chunk_delay_s=0.25,
        ),
        Reply(chunks=[f"word{i} " for i in range(200)], chunk_delay_s=0.1),
    )
    # Each question is first rewritten into a search query by the fast model.
    standin.script_completion(
        Reply(text="daily question limit per person"),
        Reply(text="Can administrators raise the daily question limit for a group?"),
    )
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        violations = watch_for_csp_violations(page)
        page.goto(f"{live_server_url}/chat/")
        page.fill("#id_username", "ann")
        page.fill("#id_password", "pw-ann-123456")
        page.click("button[type=submit]")
        page.wait_for_url("**/chat/*/")

        page.fill("textarea[name=question]", "How many questions may I ask per day?")
        page.keyboard.press("Enter")
        live = page.locator(".answer.live")
        live.wait_for()
        page.wait_for_function(
            "() => { const a = document.querySelector('.answer.live');"
            " return a && a.textContent.includes('person') && !a.textContent.includes('[1]'); }"
        )
        page.screenshot(path=ARTIFACTS / "1-streaming.png")
        streaming_text = live.text_content()
        citation = page.locator("a.cite").first
        citation.wait_for(timeout=15000)
        page.screenshot(path=ARTIFACTS / "2-answered.png")
        final_text = page.locator(".message.assistant .answer").first.text_content()

        citation.click()
        page.wait_for_url("**/documents/**")
        focused = page.locator(".chunk.focus")
        focused.wait_for()
        page.screenshot(path=ARTIFACTS / "3-source.png")
        source_text = focused.text_content()

        page.go_back()
        page.fill("textarea[name=question]", "Can administrators raise the limit for a group?")

        page.keyboard.press("Enter")
        page.wait_for_function(
            "() => { const a = document.querySelector('.answer.live');"
            " return a && a.textContent.includes('word3'); }"
        )
        page.click(".message.streaming .stop button")
        page.locator(".message.status-cancelled").wait_for(timeout=15000)
        page.screenshot(path=ARTIFACTS / "4-stopped.png")
        stopped_notice = page.locator(".message.status-cancelled .notice").text_content()
        page.reload()
        page.locator(".message.status-cancelled").wait_for()
        reloaded_notice = page.locator(".message.status-cancelled .notice").text_content()
        still_streaming = page.locator(".message.streaming").count()
        page.close()

    assert violations == []
    assert "person" in streaming_text and "[1]" not in streaming_text
    assert "Each person may ask 200 questions a day [1]." in final_text
    assert "200 questions a day" in source_text
    assert stopped_notice == reloaded_notice == "Stopped before the end."
    assert still_streaming == 0
    stopped = Message.objects.filter(role="assistant").order_by("pk").last()
    assert stopped.status == Message.Status.CANCELLED
    assert len(stopped.text.split()) < 200


def test_an_admin_sets_a_quota_of_three_the_chat_counts_down_and_refuses_the_fourth(
    live_server_url, standin, django_user_model, admin_user
):
    ingest_text(Collection.objects.create(name="Guide", is_public=True), "guide.md", GUIDE)
    django_user_model.objects.create_user("ann", password="pw-ann-123456")
    with chromium() as browser:
        admin = browser.new_page(viewport={"width": 1200, "height": 800})
        log_in(admin, live_server_url, "/admin/assistant/quotaoverride/add/", "admin", "password")
        admin.click("#id_user + .select2 .select2-selection")  # the admin's autocomplete
        admin.keyboard.type("ann")
        admin.locator(".select2-results__option", has_text="ann").click()
        admin.fill("#id_questions_per_day", "3")
        admin.click("input[name=_save]")
        admin.wait_for_url("**/quotaoverride/")

        page = browser.new_page(viewport={"width": 1200, "height": 800})
        log_in(page, live_server_url, "/chat/", "ann", "pw-ann-123456")
        quota = page.locator("#quota")
        assert "3 questions left today" in quota.inner_text()
        for left, question in [
            ("2 questions", "How many questions may I ask per day?"),
            ("1 question ", "How many questions can each person ask a day?"),
            ("0 questions", "Can administrators raise the question limit for a group?"),
        ]:
            page.fill("textarea[name=question]", question)
            page.keyboard.press("Enter")
            page.wait_for_function(
                f"() => document.querySelector('#quota').textContent.includes('{left.strip()}')"
            )
            page.locator(".message.assistant .answer:not(.live)").last.wait_for()
        # The first question named the conversation, in the header and the sidebar, unreloaded.
        first = "How many questions may I ask per day?"
        assert page.input_value("#conversation-title") == first
        assert page.inner_text("#current-conversation") == first
        page.screenshot(path=ARTIFACTS / "quota-countdown.png", full_page=True)

        page.fill("textarea[name=question]", "And a fourth?")
        page.keyboard.press("Enter")
        error = page.locator("#ask-error")
        error.wait_for(state="visible")
        assert "You have used your 3 questions for today" in error.inner_text()
        page.screenshot(path=ARTIFACTS / "quota-refused.png", full_page=True)

        admin.goto(f"{live_server_url}/usage/")
        admin.screenshot(path=ARTIFACTS / "usage-dashboard.png", full_page=True)
        assert "qwen-plus" in admin.content()


def log_in(page, live_server_url: str, path: str, username: str, password: str) -> None:
    page.goto(f"{live_server_url}{path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("[type=submit]")
    page.wait_for_url(f"**{path}**")


# Blocks that sit side by side or stacked; two of them overlapping is a broken layout.
BLOCKS = "main section, main table, main figure, main form, main aside, main nav, main article"
LAYOUT_PROBLEMS = """(blocks) => {
  const problems = [];
  const overflow = document.documentElement.scrollWidth - window.innerWidth;
  if (overflow > 1) problems.push(`the page scrolls sideways by ${overflow}px`);
  // A sticky composer or a fixed bar floats over the page by design.
  const floating = [...document.querySelectorAll('*')].filter(
    e => ['sticky', 'fixed'].includes(getComputedStyle(e).position));
  // What shows of a block: a wide table inside a scrolling box is cut at the box's edges.
  const visible = e => {
    let r = e.getBoundingClientRect();
    let box = {left: r.left, right: r.right, top: r.top, bottom: r.bottom};
    for (let p = e.parentElement; p; p = p.parentElement) {
      const style = getComputedStyle(p);
      if (style.overflowX === 'visible' && style.overflowY === 'visible') continue;
      const c = p.getBoundingClientRect();
      box = {left: Math.max(box.left, c.left), right: Math.min(box.right, c.right),
             top: Math.max(box.top, c.top), bottom: Math.min(box.bottom, c.bottom)};
    }
    return box;
  };
  const boxes = [...document.querySelectorAll(blocks)].filter(
    e => e.offsetParent !== null && !floating.some(f => f.contains(e)));
  for (const [i, a] of boxes.entries()) {
    for (const b of boxes.slice(i + 1)) {
      if (a.contains(b) || b.contains(a)) continue;
      const r = visible(a), s = visible(b);
      const w = Math.min(r.right, s.right) - Math.max(r.left, s.left);
      const h = Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top);
      if (w > 2 && h > 2) {
        const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
          ' "' + (e.querySelector('h1,h2,caption,figcaption,th')?.textContent || '').trim() + '"';
        problems.push(`${name(a)} overlaps ${name(b)} by ${Math.round(w)}x${Math.round(h)}px`);
      }
    }
  }
  return problems;
}"""


def a_busy_month(admin_user) -> tuple[int, int]:
    """What an admin's pages show after real use: an answered question with a citation, model
    calls with long names, a thumbs-down and a question the documents could not answer."""
    from assistant.chat.models import Citation, Conversation, EvaluationRun, Feedback
    from assistant.llm.models import LlmCall

    document = ingest_text(
        Collection.objects.create(name="Guide", is_public=True), "guide.md", GUIDE
    )
    chunk = document.chunks.get()
    conversation = Conversation.objects.create(owner=admin_user, title="Daily question limit")
    Message.objects.create(conversation=conversation, role="user", text=GUIDE.splitlines()[2])
    answer = Message.objects.create(
        conversation=conversation,
        role="assistant",
        status=Message.Status.SUCCEEDED,
        text="Each person may ask 200 questions a day [1].",
        html="<p>Each person may ask 200 questions a day [1].</p>",
        provider="openai-compatible",
        model="qwen2.5-14b-instruct-q4_k_m-air-gapped-site",
    )
    Citation.objects.create(
        message=answer, n=1, chunk=chunk, document=document, quote=chunk.text, title="Quotas"
    )
    Feedback.objects.create(message=answer, user=admin_user, helpful=False, comment="Too short")
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        status=Message.Status.SUCCEEDED,
        content_gap=True,
        standalone_question="How do I export every conversation of a whole department?",
    )
    for model in ["qwen2.5-14b-instruct-q4_k_m-air-gapped-site", "text-embedding-v4", "qwen-plus"]:
        LlmCall.objects.create(
            user=admin_user,
            provider="openai-compatible",
            model=model,
            prompt_tokens=123_456,
            completion_tokens=7_890,
            cost_usd="1.234567",
        )
    EvaluationRun.objects.create(
        kind="answers",
        collection_name="PostgreSQL 15 manual, chapters on backup and replication",
        questions_file="bench/questions/pg15.jsonl",
        questions=92,
        provider="openai-compatible",
        model="qwen2.5-14b-instruct-q4_k_m-air-gapped-site",
        embedder="universal-sentence-encoder-multilingual-3",
        figures={
            "groups": {"overall": {"n": 92, "recall": 0.957, "mrr": 0.812}},
            "answered_share": 0.989,
            "gold_cited_share": 0.659,
            "first_token_ms": {"p50": 75, "p95": 109},
            "tokens": 123_456,
            "cost_usd": 1.234567,
        },
    )
    return conversation.pk, document.pk


def watch_for_csp_violations(page) -> list[str]:
    """The browser's reports of anything the Content-Security-Policy blocked on `page`."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations


def heading(page) -> str:
    """The page's first heading; its title where it has none (the chat and search pages)."""
    first = page.locator("h1, h2").first
    return first.inner_text() if first.count() else page.title()


def test_every_page_fits_at_1280_and_390_px_wide(live_server_url, admin_user):
    from django.contrib import admin
    from django.urls import reverse

    conversation_id, document_id = a_busy_month(admin_user)
    # Each page with the heading that shows it is the page asked for, not a login form, an
    # error page or some other page a redirect led to.
    pages = {
        "home": ("/", "The assistant is running"),
        "chat": (f"/chat/{conversation_id}/", "Daily question limit · Knowledge assistant"),
        "search": ("/search/?q=questions+per+day", "Search · Knowledge assistant"),
        "source": (f"/documents/{document_id}/", "Quotas"),
        "account": ("/account/", "Your account"),
        "usage": ("/usage/", "Usage and cost"),
        "upload": ("/admin/ingest/document/upload/", "Upload documents"),
        "admin": ("/admin/", "Site administration"),
        "api-docs": ("/api/docs", "Knowledge assistant API"),
    }
    for model in admin.site._registry:  # every change list, Evaluation runs among them
        meta = model._meta
        path = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        pages[f"{meta.app_label}-{meta.model_name}"] = (path, f"Select {meta.verbose_name} to")
    problems, shown = {}, {}
    with chromium() as browser:
        for width in (1280, 390):
            page = browser.new_page(viewport={"width": width, "height": 900})
            violations = watch_for_csp_violations(page)
            page.goto(f"{live_server_url}/accounts/login/")
            page.screenshot(path=ARTIFACTS / f"layout-{width}-login.png", full_page=True)
            problems[width, "login"] = page.evaluate(LAYOUT_PROBLEMS, BLOCKS)
            log_in(page, live_server_url, "/account/", "admin", "password")
            for name, (path, _) in pages.items():
                response = page.goto(f"{live_server_url}{path}")
                if not path.startswith("/admin/"):  # htmx and Swagger UI fetch after the load
                    page.wait_for_load_state("networkidle")
                redirected = response.request.redirected_from
                shown[width, name] = (
                    response.status,
                    redirected.url if redirected else None,
                    heading(page),
                )
                problems[width, name] = page.evaluate(LAYOUT_PROBLEMS, BLOCKS)
                # Django's change lists are drawn only when something is wrong with them.
                if not path.startswith("/admin/") or problems[width, name] or not response.ok:
                    page.screenshot(path=ARTIFACTS / f"layout-{width}-{name}.png", full_page=True)
            problems[width, "Content-Security-Policy"] = violations
            page.close()
    print(f"Screenshots in {ARTIFACTS}")

    wrong = {
        where: found
        for where, found in shown.items()
        if found[:2] != (200, None) or pages[where[1]][1] not in found[2]
    }
    assert wrong == {}, (
        "(status, redirected from, heading) of pages that are not the page asked for"
    )
    assert {where: found for where, found in problems.items() if found} == {}
