"""One request id on the response, the request's log lines, its Celery task's log lines and its
model-call rows."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
from io import StringIO

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from assistant.lib import log_format
from assistant.llm.models import LlmCall
from assistant.supervisor import worker_command
from ingest.models import Collection, Document
from tests.conftest import ROOT, worker_database_url
from tests.support.documents import ingest_text
from tests.support.qwen_standin import Reply
from tests.support.waiting import wait_for

NEW_ID = re.compile(r"^[0-9a-f]{32}$")


def token_for(username: str) -> str:
    out = StringIO()
    call_command("create_api_token", username, stdout=out)
    return out.getvalue().strip()


def test_a_request_gets_a_new_id_on_its_response_and_its_log_lines(client, db, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/nowhere-at-all")

    given = response["X-Request-ID"]
    assert NEW_ID.match(given)
    [line] = [r for r in caplog.records if "nowhere-at-all" in r.getMessage()]
    assert line.request_id == given
    assert given in log_format.formatter("plain").format(line)
    assert client.get("/api/v1/health")["X-Request-ID"] != given


def test_a_trusted_proxys_id_is_kept_and_a_malformed_one_replaced(client, db, settings):
    settings.REQUEST_ID_FROM_HEADER = True

    kept = client.get("/api/v1/health", headers={"X-Request-ID": "lb-1234.abc"})
    forged = client.get("/api/v1/health", headers={"X-Request-ID": "x\ny INFO fake line"})

    assert kept["X-Request-ID"] == "lb-1234.abc"
    assert NEW_ID.match(forged["X-Request-ID"])


def test_the_header_is_ignored_unless_the_proxy_is_trusted(client, db):
    response = client.get("/api/v1/health", headers={"X-Request-ID": "lb-1234"})

    assert NEW_ID.match(response["X-Request-ID"])


def test_json_log_lines_carry_level_time_logger_request_and_user(client, django_user_model):
    user = django_user_model.objects.create_user("ann", password="pw-ann-123456")
    client.force_login(user)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("django.request").addHandler(handler)
    try:
        response = client.get("/nowhere-at-all")
    finally:
        logging.getLogger("django.request").removeHandler(handler)

    line = json.loads(log_format.formatter("json").format(records[-1]))
    assert line["request_id"] == response["X-Request-ID"]
    assert line["user_id"] == user.pk
    assert line["level"] == "WARNING" and line["logger"] == "django.request"
    assert line["time"].endswith("+00:00") and "nowhere-at-all" in line["message"]


@pytest.mark.django_db(transaction=True)
def test_the_task_a_request_queues_logs_under_the_requests_id(client, django_user_model, tmp_path):
    admin = django_user_model.objects.create_superuser("root", password="pw-root-123456")
    collection = Collection.objects.create(name="Guide", is_public=True)
    output = (tmp_path / "worker.log").open("w+")
    env = os.environ | {"DATABASE_URL": worker_database_url(), "LOG_FORMAT": "json"}
    worker = subprocess.Popen(
        worker_command("--pool=solo", "--loglevel=INFO", "--without-heartbeat"),
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        response = client.post(
            f"/api/v1/collections/{collection.pk}/documents",
            {"files": SimpleUploadedFile("notes.md", b"# Notes\n\nThe office opens at nine.\n")},
            headers={"Authorization": f"Bearer {token_for(admin.username)}"},
        )
        assert response.status_code == 202, response.content
        document = Document.objects.get()

        def ingested_line():
            lines = (tmp_path / "worker.log").read_text().splitlines()
            return [
                json.loads(line)
                for line in lines
                if line.startswith("{") and f"document {document.pk} ingested" in line
            ]

        [line] = wait_for(ingested_line)
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    assert line["request_id"] == response["X-Request-ID"]
    assert line["user_id"] == admin.pk
    assert line["logger"] == "ingest.tasks"


@pytest.mark.django_db(transaction=True)
def test_an_answers_model_calls_carry_its_request_id(live_server_url, standin, django_user_model):
    guide = Collection.objects.create(name="Guide", is_public=True)
    ingest_text(guide, "guide.md", "# Quotas\n\nEach person may ask 200 questions a day.\n")
    django_user_model.objects.create_user("ann", password="pw-ann-123456")
    standin.script(Reply(text="Each person may ask 200 questions a day [1]."))

    reply = httpx.post(
        f"{live_server_url}/api/v1/ask",
        json={"question": "How many questions a day?"},
        headers={"Authorization": f"Bearer {token_for('ann')}"},
        timeout=30,
    )

    assert reply.status_code == 200, reply.text
    given = reply.headers["X-Request-ID"]
    kinds = set(LlmCall.objects.filter(request_id=given).values_list("kind", flat=True))
    assert {LlmCall.Kind.ANSWER, LlmCall.Kind.EMBEDDING, LlmCall.Kind.RERANK} <= kinds
    assert not LlmCall.objects.filter(message__isnull=False).exclude(request_id=given).exists()
