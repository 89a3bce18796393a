"""Chinese and English: the catalogs are complete and compiled, nothing a person reads escapes
them, and the language is the person's choice, else their browser's, else the site's."""

from __future__ import annotations

import ast
import gettext
import io
import re
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_python
from babel.messages.pofile import read_po
from django.conf import settings
from django.contrib.auth.models import Group
from django.template.base import Lexer, TokenType
from django.utils.translation import templatize

from assistant.accounts.models import QuotaOverride, UserLanguage
from assistant.chat import conversations
from assistant.chat.models import Citation, Conversation, Feedback, Message
from assistant.llm.models import LlmCall
from ingest.models import Collection
from tests.conftest import ROOT
from tests.support.documents import ingest_text

LOCALE = ROOT / "locale"
CATALOGS = sorted(LOCALE.glob("*/LC_MESSAGES/django.po"))
# The gettext functions we call, with where their message arguments are (as makemessages reads).
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "npgettext_lazy": ((1, "c"), 2, 3),
}


def catalog(language: str):
    with open(LOCALE / language / "LC_MESSAGES" / "django.po", "rb") as po:
        return read_po(po)


def key(message) -> tuple[str | None, str]:
    msgid = message.id[0] if isinstance(message.id, tuple) else message.id
    return message.context, msgid


def product_sources() -> list[Path]:
    files = [
        path
        for package in ("assistant", "ingest")
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    ]
    return sorted(files)


def marked_in_code() -> dict[tuple[str | None, str], str]:
    """Every message our Python and templates mark, found the way makemessages finds them (a
    template becomes gettext calls through Django's own templatize), with where it is."""
    found = {}
    sources = [(path, path.read_text()) for path in product_sources()]
    sources += [
        # Templatize writes each call on one line, indented as the template was: unindented,
        # the lines read as Python.
        (path, "\n".join(line.lstrip() for line in templatize(path.read_text()).splitlines()))
        for path in sorted((ROOT / "templates").rglob("*.html"))
    ]
    for path, text in sources:
        for _, function, arguments, _ in extract_python(
            io.BytesIO(text.encode()), KEYWORDS, [], {}
        ):
            arguments = arguments if isinstance(arguments, tuple) else (arguments,)
            context = arguments[0] if function.startswith(("pgettext", "npgettext")) else None
            msgid = arguments[1] if context is not None else arguments[0]
            if msgid:
                found[context, msgid] = str(path.relative_to(ROOT))
    return found


def translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings) and not message.fuzzy


def test_catalogs_exist_for_chinese_and_english():
    assert {path.parts[-3] for path in CATALOGS} == {"en", "zh_Hans"}
    assert dict(settings.LANGUAGES).keys() == {"en", "zh-hans"}


def test_every_marked_string_has_a_chinese_translation():
    chinese = {key(m): m for m in catalog("zh_Hans") if m.id}
    untranslated = [
        f"{where}: {msgid!r}"
        for (context, msgid), where in marked_in_code().items()
        if (context, msgid) not in chinese or not translated(chinese[context, msgid])
    ]
    assert untranslated == [], "run makemessages and translate:\n" + "\n".join(untranslated)


def test_translations_keep_their_placeholders():
    problems = []
    for message in catalog("zh_Hans"):
        if not message.id or "python-format" not in message.flags:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(re.findall(r"%\((\w+)\)", ids[-1]))
        for string in strings:
            if set(re.findall(r"%\((\w+)\)", string)) != wanted:
                problems.append(f"{ids[0]!r} -> {string!r}")
    assert problems == []


@pytest.mark.parametrize("po", CATALOGS, ids=lambda path: path.parts[-3])
def test_each_committed_mo_file_matches_its_po_file(po):
    """`make run` serves the committed .mo files (a fresh machine may lack GNU gettext): they
    must say what the .po files say. Compare what each one means, read by Python's gettext."""
    wanted = {}
    with open(po, "rb") as source:
        for message in read_po(source):
            if not message.id or not translated(message):
                continue
            prefix = f"{message.context}\x04" if message.context else ""
            if isinstance(message.id, tuple):  # plural forms: keyed by (singular, n)
                for n, string in enumerate(message.string):
                    wanted[prefix + message.id[0], n] = string
            else:
                wanted[prefix + message.id] = message.string
    with open(po.with_suffix(".mo"), "rb") as compiled:
        translations = gettext.GNUTranslations(compiled)
    got = {k: v for k, v in translations._catalog.items() if k != ""}

    assert got == wanted, "run manage.py compilemessages and commit the .mo files"


# --- Nothing a person reads is left unmarked ----------------------------------------------------

# Attributes a person reads (or hears); the rest of a tag is markup.
# (Not `alt`: Django's admin writes its icons' alt texts in English, "True", "Search".)
READ_ATTRIBUTES = ("placeholder", "title", "aria-label", "data-confirm", "data-copied")
# Names that stay as they are in Chinese too.
NAMES = {
    *("API", "CSV", "PDF", "Word", "PowerPoint", "Excel", "HTML", "Markdown", "JSON", "Qwen"),
    *("PostgreSQL", "pgvector", "Celery", "Enter", "Shift", "OCR", "MRR", "USD", "Bearer"),
    *("Authorization", "NUL", "Unicode", "SHA", "token", "English", "Django", "Control"),
    *("Command", "Mac"),
}


def words_in_template_text(text: str) -> list[str]:
    """English words a template shows outside {% translate %}: text between tags and the
    attributes a person reads."""
    shown = [
        value
        for name, value in re.findall(r'\s([\w-]+)="([^"]*)"', text)
        if name in READ_ATTRIBUTES
    ]
    shown.append(re.sub(r"<[^>]*>", " ", text))
    return [
        word
        for part in shown
        for word in re.findall(r"(?<![\w&./#:-])[A-Za-z]{2,}(?![\w./-])", part)
        if word not in NAMES
    ]


@pytest.mark.parametrize(
    "template", sorted((ROOT / "templates").rglob("*.html")), ids=lambda p: p.name
)
def test_templates_show_no_words_outside_translate(template):
    """The template's own text with every tag, variable and translated block taken out: what is
    left are words a person would read untranslated."""
    text, depth = [], 0
    for token in Lexer(template.read_text()).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0]
            depth += name in {"blocktranslate", "blocktrans", "comment"}
            depth -= name in {"endblocktranslate", "endblocktrans", "endcomment"}
        text.append(token.contents if token.token_type == TokenType.TEXT and depth == 0 else "§")
    assert words_in_template_text("".join(text)) == []


# Arguments that are always text for people, in the calls that take them.
TEXT_KEYWORDS = {"verbose_name", "verbose_name_plural", "help_text", "label", "empty_label"}
# The admin's column and action names (the API's OpenAPI descriptions may stay English).
ADMIN_DESCRIBED = {"display", "action"}
# (IngestError, OcrError, mark_failed: why a document failed, stored for the admin who uploaded it.)
TEXT_CALLS = {
    "ValidationError": 0,
    "ApiError": 2,
    "HttpError": 1,
    "message_user": 1,
    "IngestError": 0,
    "OcrError": 0,
    "mark_failed": 0,
}


def is_plain_text(node: ast.AST) -> bool:
    """A literal (or an f-string's literal parts) with words in it."""
    parts = node.values if isinstance(node, ast.JoinedStr) else [node]
    return any(
        isinstance(part, ast.Constant)
        and isinstance(part.value, str)
        and re.search(r"[A-Za-z]{2,}", part.value) is not None
        for part in parts
    )


@pytest.mark.parametrize(
    "path",
    product_sources(),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_python_text_for_people_is_marked(path):
    """Labels, help texts, admin descriptions, form errors and API error messages are gettext
    calls, never bare literals; `verbose_name = "..."` in a class body counts too."""
    unmarked = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            keywords = TEXT_KEYWORDS | ({"description"} if name in ADMIN_DESCRIBED else set())
            for keyword in node.keywords:
                if keyword.arg in keywords and is_plain_text(keyword.value):
                    unmarked.append(f"line {node.lineno}: {keyword.arg}=")
            position = TEXT_CALLS.get(name)
            plain = position is not None and len(node.args) > position
            if plain and is_plain_text(node.args[position]):
                unmarked.append(f"line {node.lineno}: {name}(...)")
        elif isinstance(node, ast.Dict) and "fields" in {
            getattr(k, "value", None) for k in node.keys
        }:
            for name, value in zip(node.keys, node.values, strict=True):  # a fieldset's options
                if getattr(name, "value", None) == "description" and is_plain_text(value):
                    unmarked.append(f"line {node.lineno}: a fieldset's description")
        elif isinstance(node, ast.Assign) and is_plain_text(node.value):
            targets = [getattr(t, "id", "") for t in node.targets]
            if set(targets) & {"verbose_name", "verbose_name_plural"}:
                unmarked.append(f"line {node.lineno}: {targets[0]} =")
        elif isinstance(node, ast.ClassDef) and any(
            getattr(base, "attr", "") == "TextChoices" for base in node.bases
        ):
            for item in node.body:
                value = getattr(item, "value", None)
                if isinstance(value, ast.Tuple) and len(value.elts) == 2:
                    label = value.elts[1]
                    if is_plain_text(label) and label.value != value.elts[0].value:
                        unmarked.append(f"line {item.lineno}: a choice's label")
    assert unmarked == []


class VisibleText(HTMLParser):
    """What a person reads on a page: text and the attributes read aloud, without scripts,
    styles, code, the documents' and answers' own text, and the names of other languages."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
    SKIPPED_TAGS = {"script", "style", "code", "textarea", "title", "svg"}
    # Documents, answers, questions and what people typed: content, not interface.
    CONTENT = {"answer", "passage", "chunk-text", "bubble", "hit-title", "hit-meta"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        skip = (
            (bool(self.stack) and self.stack[-1])
            or tag in self.SKIPPED_TAGS
            or bool(classes & self.CONTENT)
            or ("lang" in attributes and tag != "html")  # another language's own name
            or "language" in classes
        )
        if not skip:
            self.parts += [value or "" for name, value in attrs if name in READ_ATTRIBUTES]
            if tag in {"input", "button"} and attributes.get("type") in {"submit", "button"}:
                self.parts.append(attributes.get("value") or "")
        if tag not in self.VOID:
            self.stack.append(skip)

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not (self.stack and self.stack[-1]):
            self.parts.append(data)


def english_in(html: str, data: set[str]) -> list[str]:
    """Runs of English words a Chinese reader would meet, the test data's own words aside."""
    # A password hash's summary (its algorithm, salt and hash) is values, not interface: its
    # random letters once read as the English words "xp" and "SNEDZL".
    html = re.sub(r"<bdi>[^<]*</bdi>", " ", html)
    parser = VisibleText()
    parser.feed(html)
    text = " ".join(parser.parts)
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    # Identifiers, model names, file names and numbers are not words (qwen-plus, guide.md).
    text = re.sub(r"\S*[\d_./@:-]\S*", " ", text)
    words = re.findall(r"(?<![A-Za-z])[A-Za-z]{2,}(?![A-Za-z])", text)
    return [w for w in words if w not in NAMES and not re.search("[a-z][A-Z]", w)]


@pytest.fixture
def busy_site(db, admin_user, django_user_model):
    """Test data written in Chinese (so any English left on a page is the interface's), with
    something on every page: an answer with a citation, a vote, a content gap, model calls, a
    token, a quota override and a document."""
    collection = Collection.objects.create(name="员工手册", is_public=True)
    document = ingest_text(
        collection, "手册.md", "# 配额\n\n每人每天可以提问 200 次。管理员可以为某个组提高上限。\n"
    )
    chunk = document.chunks.get()
    people = {
        "user": django_user_model.objects.create_user("ann", password="pw-ann-123456"),
        "staff": django_user_model.objects.create_user("bob", password="pw-bob-123456"),
        "admin": admin_user,
    }
    people["staff"].groups.add(Group.objects.get(name="staff"))
    QuotaOverride.objects.create(user=people["user"], questions_per_day=5)
    for person in people.values():
        conversation = Conversation.objects.create(owner=person, title="每日提问上限")
        Message.objects.create(
            conversation=conversation, role="user", text="每天可以问几次？", status="succeeded"
        )
        answer = Message.objects.create(
            conversation=conversation,
            role="assistant",
            status=Message.Status.SUCCEEDED,
            text="每人每天可以提问 200 次 [1]。",
            html="<p>每人每天可以提问 200 次 [1]。</p>",
            provider="qwen",
            model="qwen-plus",
            total_ms=1234,
        )
        Citation.objects.create(
            message=answer, n=1, chunk=chunk, document=document, quote=chunk.text, title="配额"
        )
        Feedback.objects.create(message=answer, user=person, helpful=False, comment="太简短")
        LlmCall.objects.create(
            user=person,
            message=answer,
            provider="qwen",
            model="qwen-plus",
            prompt_tokens=1200,
            completion_tokens=300,
            cost_usd=Decimal("0.00084"),
            first_token_ms=420,
        )
        person.api_tokens.create(name="客服机器人", prefix="qa_abcd", digest=f"{person.pk:064}")
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        status=Message.Status.SUCCEEDED,
        content_gap=True,
        standalone_question="如何导出整个部门的所有对话？",
    )
    return {"people": people, "conversation": conversation, "document": document}


def pages_of(site, role: str) -> dict[str, str]:
    person = site["people"][role]
    conversation = Conversation.objects.filter(owner=person).first()
    pages = {
        "home": "/",
        "chat": f"/chat/{conversation.pk}/",
        "search": "/search/",
        "search results": "/search/?q=提问",
        "source": f"/documents/{site['document'].pk}/",
        "account": "/account/",
    }
    if role in {"staff", "admin"}:
        pages |= {"usage": "/usage/", "admin": "/admin/"}
        answer = conversation.messages.filter(role="assistant").first()
        pages |= {
            "review queue": "/review/",
            "reviewed answer from an answer": f"/review/answers/{answer.pk}/write",
            "reviewed answer from search": f"/review/new?q=提问&document={site['document'].pk}",
        }
    if role == "admin":
        pages |= {
            "upload": "/admin/ingest/document/upload/",
            "documents": "/admin/ingest/document/",
            "document": f"/admin/ingest/document/{site['document'].pk}/change/",
            "collections": "/admin/ingest/collection/",
            "quota overrides": "/admin/assistant/quotaoverride/",
            "messages": "/admin/assistant/message/",
            "feedback": "/admin/assistant/feedback/",
            "model calls": "/admin/assistant/llmcall/",
            "tokens": "/admin/assistant/apitoken/",
            "evaluation runs": "/admin/assistant/evaluationrun/",
            "reviewed answers": "/admin/assistant/reviewedanswer/",
            "new reviewed answer": "/admin/assistant/reviewedanswer/add/",
            "users": f"/admin/auth/user/{person.pk}/change/",
        }
    return pages


# Names: the people, the role groups, providers and embedders.
TEST_DATA = {"ann", "bob", "admin", "staff", "user", "qwen", "extractive", "local", "minilm"}


@pytest.mark.parametrize("role", ["user", "staff", "admin"])
def test_every_page_in_chinese_shows_no_english_interface(client, busy_site, role):
    client.force_login(busy_site["people"][role])
    found = {}
    for name, path in pages_of(busy_site, role).items():
        response = client.get(path, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.8")
        assert response.status_code == 200, (name, response.status_code)
        html = response.content.decode()
        assert '<html lang="zh-hans"' in html or 'lang="zh-hans"' in html, name
        if english := english_in(html, TEST_DATA):
            found[name] = english
    assert found == {}, "\n".join(f"{name}: {' '.join(words)}" for name, words in found.items())


@pytest.mark.parametrize("role", ["user", "staff", "admin"])
def test_every_page_in_english_is_in_english(client, busy_site, role):
    """The same pages with an English browser: the interface is the English of the catalog."""
    client.force_login(busy_site["people"][role])
    for name, path in pages_of(busy_site, role).items():
        html = client.get(path, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
        assert '<html lang="en"' in html, name
        assert re.search("搜索|账号|退出登录", visible_text_of(html)) is None, name


def visible_text_of(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(parser.parts)


def test_the_quota_line_and_dates_are_localised(client, busy_site):
    ann = busy_site["people"]["user"]
    client.force_login(ann)
    conversation = Conversation.objects.filter(owner=ann).first()

    chinese = client.get(f"/chat/{conversation.pk}/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    english = client.get(f"/chat/{conversation.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    account = client.get("/account/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()

    assert "今天还可提问 5 次" in chinese.content.decode()
    assert "200,000 个 token" in chinese.content.decode()
    assert "20.00 美元" in chinese.content.decode()
    assert "5 questions left today" in english.content.decode()
    assert "$20.00 this month" in english.content.decode()
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", account)


# --- Which language -----------------------------------------------------------------------------


def test_the_browser_chooses_when_the_person_has_not(client, busy_site):
    client.force_login(busy_site["people"]["user"])

    chinese = client.get("/account/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    english = client.get("/account/", HTTP_ACCEPT_LANGUAGE="en-GB")
    other = client.get("/account/", HTTP_ACCEPT_LANGUAGE="fr-FR")

    assert "<h1>我的账号</h1>" in chinese.content.decode()
    assert chinese["Content-Language"] == "zh-hans"
    assert "<h1>Your account</h1>" in english.content.decode()
    assert "<h1>Your account</h1>" in other.content.decode()  # the site's default


def test_the_site_default_is_the_language_code_setting(client, settings):
    settings.LANGUAGE_CODE = "zh-hans"

    page = client.get("/accounts/login/").content.decode()

    assert '<html lang="zh-hans">' in page and "<h1>登录</h1>" in page


def test_a_person_switches_language_and_it_follows_them_to_another_browser(client, busy_site):
    from django.test import Client

    ann = busy_site["people"]["user"]
    client.force_login(ann)

    switched = client.post(
        "/language", {"language": "zh-hans", "next": "/account/"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    after = client.get("/account/", HTTP_ACCEPT_LANGUAGE="en")
    elsewhere = Client()
    elsewhere.force_login(ann)
    other_browser = elsewhere.get("/account/", HTTP_ACCEPT_LANGUAGE="en")
    client.post("/language", {"language": "en", "next": "/account/"})
    back = client.get("/account/", HTTP_ACCEPT_LANGUAGE="zh-CN")

    assert switched.status_code == 302 and switched["Location"] == "/account/"
    assert "<h1>我的账号</h1>" in after.content.decode()
    assert "<h1>我的账号</h1>" in other_browser.content.decode()
    assert "<h1>Your account</h1>" in back.content.decode()
    assert UserLanguage.objects.get(user=ann).language == "en"


def test_a_visitor_switches_with_a_cookie_and_nothing_is_saved(client, db):
    client.post("/language", {"language": "zh-hans", "next": "/accounts/login/"})

    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "<h1>登录</h1>" in page
    assert not UserLanguage.objects.exists()


def test_an_unknown_language_changes_nothing(client, busy_site):
    ann = busy_site["people"]["user"]
    client.force_login(ann)

    client.post("/language", {"language": "fr", "next": "/account/"})

    assert not UserLanguage.objects.filter(user=ann).exists()
    assert "Your account" in client.get("/account/").content.decode()


def test_the_admin_comes_up_in_chinese(client, busy_site):
    client.force_login(busy_site["people"]["admin"])

    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()

    assert "站点管理" in page  # Django's own catalog
    assert "文档集" in page and "单独限额" in page  # ours


# --- Refusals, notices and the API --------------------------------------------------------------


def test_refusals_are_in_the_readers_language(client, busy_site, settings):
    ann = busy_site["people"]["user"]
    client.force_login(ann)
    conversation = Conversation.objects.create(owner=ann)
    QuotaOverride.objects.filter(user=ann).update(questions_per_day=1)
    settings.ANSWER_PROVIDER = "extractive"

    blank = client.post(
        f"/chat/{conversation.pk}/ask", {"question": " "}, HTTP_ACCEPT_LANGUAGE="zh-CN"
    )
    client.post(
        f"/chat/{conversation.pk}/ask", {"question": "几次？"}, HTTP_ACCEPT_LANGUAGE="zh-CN"
    )
    over = client.post(
        f"/chat/{conversation.pk}/ask", {"question": "还能问吗？"}, HTTP_ACCEPT_LANGUAGE="zh-CN"
    )
    over_en = client.post(
        f"/chat/{conversation.pk}/ask", {"question": "And now?"}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert "请输入问题。" in blank.content.decode()
    assert over.status_code == 429
    assert "你已用完今天的 1 次提问" in over.content.decode()
    assert "如需更多额度，请联系管理员。" in over.content.decode()
    assert "You have used your 1 question for today" in over_en.content.decode()


def test_an_answer_the_sweeper_closes_is_written_in_its_owners_saved_language(busy_site, settings):
    ann = busy_site["people"]["user"]
    UserLanguage.objects.create(user=ann, language="zh-hans")
    settings.ANSWER_PROVIDER = "extractive"
    reply = conversations.ask(
        conversation=Conversation.objects.create(owner=ann),
        question="几次？",
        high_accuracy=False,
    )
    Message.objects.filter(pk=reply.pk).update(created_at="2000-01-01T00:00:00Z")

    conversations.close_abandoned_answers()

    reply.refresh_from_db()
    assert reply.status == Message.Status.FAILED
    assert reply.error == "这个回答未能开始，请重新提问。"


def test_notices_follow_the_active_language():
    from django.utils import translation

    from assistant.chat import notices

    with translation.override("zh-hans"):
        chinese = (notices.may_not_cover(["VPN", "打印机"]), str(notices.STOPPED))
    with translation.override("en"):
        english = (notices.may_not_cover(["VPN"]), str(notices.STOPPED))

    assert chinese == (
        "以下段落可能无法回答你的问题：你有权阅读的文档中从未提到VPN、打印机。"
        "这些是最接近的匹配结果。",
        "回答未完成即已停止。",
    )
    assert english[1] == "Stopped before the end." and "never mention VPN" in english[0]


@pytest.mark.parametrize(
    ("language", "unauthorized", "not_found", "blank"),
    [
        ("zh-CN", "请先登录", "未找到。", "不能为空"),
        ("en", "Log in, or send", "Not found.", "must not be blank"),
    ],
)
def test_api_errors_speak_the_callers_language_with_the_same_codes(
    client, busy_site, language, unauthorized, not_found, blank
):
    anonymous = client.get("/api/v1/usage", HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(busy_site["people"]["user"])
    missing = client.get("/api/v1/messages/999999", HTTP_ACCEPT_LANGUAGE=language)
    invalid = client.post(
        "/api/v1/ask",
        {"question": "   "},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE=language,
    )
    no_question = client.post(
        "/api/v1/ask", {}, content_type="application/json", HTTP_ACCEPT_LANGUAGE=language
    )

    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    assert unauthorized in anonymous.json()["error"]["message"]
    assert missing.json()["error"] == {"code": "not_found", "message": not_found}
    assert invalid.json()["error"]["code"] == "invalid_request"
    assert blank in invalid.json()["error"]["message"]
    assert no_question.json()["error"]["code"] == "invalid_request"
    if language == "zh-CN":
        assert "缺少必填字段" in no_question.json()["error"]["message"]
