"""A person whose Chromium prefers Chinese, and one whose prefers English: they ask, watch the
status line, meet a notice and a refusal, switch language, and every page still fits at 1280
and 390 px. Screenshots go to the test's temporary folder (their paths are printed)."""

from __future__ import annotations

import pytest

from assistant.accounts.models import QuotaOverride
from ingest.models import Collection
from tests.assistant.test_browser import (
    BLOCKS,
    GUIDE,
    LAYOUT_PROBLEMS,
    a_busy_month,
    chromium,
    log_in,
    watch_for_csp_violations,
)
from tests.support.documents import ingest_text
from tests.support.qwen_standin import Reply

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# What each language says where the test looks.
SAYS = {
    "zh-CN": {
        "lang": "zh-hans",
        "left": "今天还可提问 1 次",
        "writing": "正在撰写…",
        "offline": "先为你摘录最相关的段落（离线模式）。",
        "refused": "你已用完今天的 2 次提问",
        "send": "发送",
        "switch": "English",
    },
    "en-US": {
        "lang": "en",
        "left": "1 question left today",
        "writing": "Writing…",
        "offline": "Meanwhile, here are quotes from the most relevant passages (offline mode).",
        "refused": "You have used your 2 questions for today",
        "send": "Send",
        "switch": "简体中文",
    },
}


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("language-screenshots")
    print(f"screenshots: {folder}")
    return folder


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_a_question_asked_from_a_browser_in_each_language(
    live_server_url, standin, django_user_model, screenshots, locale
):
    says = SAYS[locale]
    ingest_text(Collection.objects.create(name="Guide", is_public=True), "guide.md", GUIDE)
    ann = django_user_model.objects.create_user("ann", password="pw-ann-123456")
    QuotaOverride.objects.create(user=ann, questions_per_day=2)
    standin.script(
        Reply(
            chunks=["Each ", "person ", "may ", "ask ", "200 ", "a day ", "[1]."], chunk_delay_s=0.3
        ),
        # Refused upstream (never retried), by the model and its fallback: quotes instead.
        Reply(status=400),
        Reply(status=400),
    )
    standin.script_completion(Reply(text="daily question limit"), Reply(text="group limit"))
    with chromium() as browser:
        page = browser.new_page(locale=locale, viewport={"width": 1200, "height": 800})
        log_in(page, live_server_url, "/chat/", "ann", "pw-ann-123456")
        html_lang = page.get_attribute("html", "lang")
        send = page.inner_text("#composer button[type=submit]")

        page.fill("textarea[name=question]", "How many questions may I ask per day?")
        page.keyboard.press("Enter")
        state = page.locator(".message.streaming .state")
        state.wait_for()
        page.wait_for_function(
            "(word) => document.querySelector('.message.streaming .state')?.textContent === word",
            arg=says["writing"],
        )
        page.screenshot(path=screenshots / f"{locale}-writing.png")
        page.locator(".message.assistant .answer:not(.live)").last.wait_for(timeout=15000)
        quota = page.inner_text("#quota")

        page.fill("textarea[name=question]", "Can administrators raise the limit for a group?")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "() => document.querySelectorAll('.message.assistant .notice').length > 0",
            timeout=15000,
        )
        notice = page.locator(".message.assistant .notice").last.inner_text()

        page.fill("textarea[name=question]", "And a third?")
        page.keyboard.press("Enter")
        error = page.locator("#ask-error")
        error.wait_for(state="visible")
        refusal = error.inner_text()
        page.screenshot(path=screenshots / f"{locale}-chat.png", full_page=True)

        page.click("form.language button[lang]")
        page.wait_for_load_state("networkidle")
        switched = page.get_attribute("html", "lang")
        page.click("form.language button[lang]")
        page.wait_for_load_state("networkidle")
        back = page.get_attribute("html", "lang")
        page.close()

    assert html_lang == says["lang"] and send == says["send"]
    assert says["left"] in quota
    assert notice.endswith(says["offline"])
    assert says["refused"] in refusal
    assert switched != says["lang"] and back == says["lang"]


def test_every_page_fits_at_1280_and_390_px_wide_in_chinese(
    live_server_url, admin_user, screenshots
):
    """The layout checks of test_browser.py, with Chinese text (CJK glyphs measure differently)."""
    conversation_id, document_id = a_busy_month(admin_user)
    pages = {
        "home": "/",
        "chat": f"/chat/{conversation_id}/",
        "search": "/search/?q=questions+per+day",
        "source": f"/documents/{document_id}/",
        "account": "/account/",
        "usage": "/usage/",
        "upload": "/admin/ingest/document/upload/",
        "admin": "/admin/",
        "documents": "/admin/ingest/document/",
    }
    problems = {}
    with chromium() as browser:
        for width in (1280, 390):
            page = browser.new_page(locale="zh-CN", viewport={"width": width, "height": 900})
            violations = watch_for_csp_violations(page)
            page.goto(f"{live_server_url}/accounts/login/")
            page.screenshot(path=screenshots / f"zh-{width}-login.png", full_page=True)
            problems[width, "login"] = page.evaluate(LAYOUT_PROBLEMS, BLOCKS)
            log_in(page, live_server_url, "/account/", "admin", "password")
            for name, path in pages.items():
                page.goto(f"{live_server_url}{path}")
                page.wait_for_load_state("networkidle")
                assert page.get_attribute("html", "lang") == "zh-hans", name
                page.screenshot(path=screenshots / f"zh-{width}-{name}.png", full_page=True)
                if not path.startswith("/admin/") or name == "upload":  # the admin is Django's
                    problems[width, name] = page.evaluate(LAYOUT_PROBLEMS, BLOCKS)
            problems[width, "Content-Security-Policy"] = violations
            page.close()

    assert {where: found for where, found in problems.items() if found} == {}
