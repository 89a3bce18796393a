"""`manage.py evaluate`: page-level retrieval figures and the answer-level golden set, offline
and against the stand-in, each run stored for the admin to compare."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from assistant.chat.models import EvaluationRun, Message
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
