"""`manage.py evaluate`: page-level retrieval figures and the answer-level golden set, offline
and against the stand-in, each run stored for the admin to compare."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from assistant.chat.models import EvaluationRun, Message
from assistant.chat.reviewed import Cited, save_reviewed
from ingest import pipeline
from ingest.models import Collection
from tests.ingest import files
from tests.support.documents import ingest_text
from tests.support.qwen_standin import Reply

PAGES = [
    "Installing the widget: run the installer as root and reboot the machine.",
    "Backups: the widget keeps a nightly dump of its settings in /var/backups.",
    "Uninstalling: remove the package and delete the widget user account.",
]
QUESTIONS = [
    {"q": "Where are the nightly dumps of the settings kept?", "gold": ["widget.pdf#p2"]},
    {"q": "How do I install the widget?", "gold": ["widget.pdf#p1", "faq.md"]},
    {"q": "How do I deploy the widget on Kubernetes?", "gold": [], "unanswerable": True},
]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def questions(tmp_path):
    manuals = Collection.objects.create(name="Manuals")
    submission = pipeline.submit(
        collection=manuals, source_path="widget.pdf", data=files.pdf(PAGES)
    )
    pipeline.process(submission.document.pk)
    ingest_text(manuals, "faq.md", "# FAQ\n\nThe widget runs on Debian and Ubuntu.")
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in QUESTIONS))
    return path


def evaluate(questions, *args) -> dict:
    out = StringIO()
    call_command(
        "evaluate",
        "--collection",
        "Manuals",
        "--questions",
        str(questions),
        "--json",
        *args,
        stdout=out,
    )
    return json.loads(out.getvalue().splitlines()[-1])


def test_retrieval_is_scored_by_page_and_the_notice_rates_are_reported(questions):
    report = evaluate(questions)

    assert report["groups"]["overall"]["n"] == 2
    assert report["groups"]["overall"]["recall"] == 1.0
    assert report["not_covered"]["overall"]["unanswerable_flagged"] == 1
    run = EvaluationRun.objects.get()
    assert run.kind == "retrieval" and run.questions == 3 and run.figures == report


def test_answers_offline_are_scored_and_stored(questions, settings):
    settings.ANSWER_PROVIDER = "extractive"

    report = evaluate(questions, "--answers")

    assert report["questions"] == 3
    assert report["answered_share"] == 1.0
    assert report["gold_cited_share"] == 1.0
    assert report["not_covered"]["overall"]["unanswerable_flagged"] == 1
    # The figures are those of the answers it stored, each of which timed its first token.
    first_tokens = sorted(
        Message.objects.filter(role="assistant").values_list("first_token_ms", flat=True)
    )
    assert len(first_tokens) == 3 and None not in first_tokens
    assert report["first_token_ms"] == {"p50": first_tokens[1], "p95": first_tokens[2]}
    run = EvaluationRun.objects.get()
    assert (run.kind, run.provider, run.model) == ("answers", "extractive", "extractive")


def test_answers_against_the_model_count_its_tokens_and_its_not_covered_replies(
    questions, qwen_settings, standin
):
    standin.script(
        Reply(text="The dumps are in /var/backups [1].", prompt_tokens=300),
        Reply(text="Run the installer as root [1].", prompt_tokens=300),
        Reply(text="The documents do not cover Kubernetes.", prompt_tokens=300),
    )

    report = evaluate(questions, "--answers")

    assert report["answered_share"] == 1.0
    assert report["not_covered"]["overall"]["unanswerable_flagged"] == 1
    assert report["not_covered"]["overall"]["answerable_flagged"] == 0
    assert report["tokens"] >= 900 and report["cost_usd"] > 0
    assert len(standin.chat_requests()) == 3
    assert EvaluationRun.objects.get().provider == "qwen"


def test_the_admin_lists_runs_side_by_side(questions, admin_client, settings):
    settings.ANSWER_PROVIDER = "extractive"
    evaluate(questions)
    evaluate(questions, "--answers")

    page = admin_client.get("/admin/assistant/evaluationrun/").content.decode()

    assert page.count("Manuals") >= 2
    assert "1.000" in page and "100.0%" in page


def test_answers_report_the_upgrade_rate_its_cost_and_reviewed_answer_matches(
    questions, qwen_settings, standin, tmp_path
):
    qwen_settings.QUERY_REWRITE = "off"
    # The default model doubts every draft; the strong one answers with a citation.
    standin.by_model |= {
        "qwen-plus": Reply(text="The documents do not cover it.", prompt_tokens=300),
        "qwen-max": Reply(text="The dumps are in /var/backups [1].", prompt_tokens=300),
    }
    widget = Collection.objects.get(name="Manuals").documents.get(source_path="widget.pdf")
    save_reviewed(
        question="Where are the nightly dumps of the settings kept?",
        answer="In /var/backups [1].",
        collections=[widget.collection],
        variants=["Where are the settings backups stored?", "设置的每晚备份存放在哪里？"],
        cited=[Cited(widget, 2)],
        by=None,
    )
    path = tmp_path / "more.jsonl"
    more = [
        {"q": "Where are the nightly settings backups kept?", "reviewed": True},
        {"q": "每晚的设置备份保存在哪里？", "reviewed": True, "lang": "zh"},
        {"q": "How do I restore the nightly dumps?", "reviewed": False},
        {"q": "When are the nightly dumps of the settings made?", "reviewed": False},
    ]
    path.write_text("\n".join(json.dumps(q) for q in [*QUESTIONS[1:], *more]))

    report = evaluate(path, "--answers")

    assert report["reviewed_answers"] == {
        "served": 3,
        "paraphrases": 2,
        "true_matches": 2,
        "near_misses": 2,
        "false_matches": 1,  # "When are … made?" is 0.87 close to "Where are … kept?"
    }
    upgraded = Message.objects.filter(role="assistant", upgraded=True).count()
    assert upgraded >= 1
    assert report["upgrade_rate"] == upgraded / 6
    assert report["cost_per_answer_usd"] > report["cost_per_answer_without_upgrade_usd"] > 0
    models = [body["model"] for body in standin.chat_requests()]
    assert models.count("qwen-max") == upgraded

    out = StringIO()
    call_command(
        "evaluate", "--collection", "Manuals", "--questions", str(path), "--answers", stdout=out
    )
    assert "draft -> final: " in out.getvalue()
    assert "near misses 1/2 wrongly matched" in out.getvalue()
