"""/metrics: Prometheus's text format, added up across processes, behind a token or an address."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from io import StringIO

import httpx
import pytest
from django.core.management import call_command
from prometheus_client.parser import text_string_to_metric_families

from assistant.lib import var
from ingest.models import Collection
from tests.conftest import ROOT
from tests.support.documents import ingest_text
from tests.support.qwen_standin import Reply

TOKEN = "metrics-secret-123"


@pytest.fixture
def scraper(settings):
    settings.METRICS_TOKEN = TOKEN
    return {"Authorization": f"Bearer {TOKEN}"}


def scrape(client, headers) -> dict[tuple, float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_refused_without_the_token_or_a_listed_address(client, db, settings):
    settings.METRICS_TOKEN = TOKEN

    nothing = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    settings.METRICS_TOKEN = ""
    no_token_set = client.get("/metrics", headers={"Authorization": "Bearer "})
    settings.METRICS_ALLOWED_ADDRESSES = [ipaddress.ip_network("10.0.0.0/8")]
    elsewhere = client.get("/metrics")
    settings.METRICS_ALLOWED_ADDRESSES = [ipaddress.ip_network("127.0.0.1")]
    listed = client.get("/metrics")

    assert [r.status_code for r in (nothing, wrong, no_token_set, elsewhere)] == [401] * 4
    assert nothing["WWW-Authenticate"].startswith("Bearer")
    assert listed.status_code == 200


def test_an_ingestion_moves_the_document_counts_and_stage_times(client, db, scraper):
    before = scrape(client, scraper)

    ingest_text(Collection.objects.create(name="Guide"), "a.md", "# A\n\nSome text here.\n")

    after = scrape(client, scraper)
    ingested = "assistant_documents_ingested_total"
    assert value(after, ingested, status="ready") == value(before, ingested, status="ready") + 1
    stage = "assistant_ingest_stage_seconds_count"
    assert value(after, stage, stage="parse") >= value(before, stage, stage="parse") + 1
    assert value(after, "assistant_documents", status="ready") == 1
    assert value(after, "assistant_ingest_queue_depth") == 0


@pytest.mark.django_db(transaction=True)
def test_an_answer_moves_answers_latency_tokens_and_cost(
    client, live_server_url, standin, scraper, django_user_model
):
    ingest_text(
        Collection.objects.create(name="Guide", is_public=True), "g.md", "# Q\n\n200 a day.\n"
    )
    django_user_model.objects.create_user("ann", password="pw-ann-123456")
    out = StringIO()
    call_command("create_api_token", "ann", stdout=out)
    standin.script(Reply(text="200 a day [1].", prompt_tokens=50, completion_tokens=5))
    before = scrape(client, scraper)

    reply = httpx.post(
        f"{live_server_url}/api/v1/ask",
        json={"question": "How many a day?"},
        headers={"Authorization": f"Bearer {out.getvalue().strip()}"},
        timeout=30,
    )

    assert reply.status_code == 200, reply.text
    after = scrape(client, scraper)

    def moved(name, by=1.0, **labels):
        return value(after, name, **labels) - value(before, name, **labels) >= by

    model = {"model": "qwen-plus"}
    assert moved("assistant_answers_total", status="succeeded", **model)
    assert moved("assistant_answer_first_token_seconds_count", **model)
    assert moved("assistant_answer_seconds_count", **model)
    assert moved("assistant_model_tokens_total", 50, kind="answer", direction="prompt", **model)
    assert moved("assistant_model_cost_usd_total", 1e-6, kind="answer", **model)


def test_login_failures_and_lockouts_are_counted(client, db, scraper, settings, django_user_model):
    django_user_model.objects.create_user("bob", password="pw-bob-123456")
    settings.LOGIN_ATTEMPTS_PER_ACCOUNT = 2
    before = scrape(client, scraper)

    for _ in range(2):
        client.post("/accounts/login/", {"username": "bob", "password": "wrong"})

    after = scrape(client, scraper)
    failures, lockouts = "assistant_login_failures_total", "assistant_login_lockouts_total"
    assert value(after, failures) - value(before, failures) >= 2
    assert value(after, lockouts) - value(before, lockouts) >= 1


COUNT_IN_A_PROCESS = """
import os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assistant.settings")
django.setup()
from assistant.lib import metrics
metrics.SOURCE_SYNCS.labels("two-processes").inc(3)
metrics.OPEN_STREAMS.inc()
print(os.getpid())
"""


def test_two_processes_add_up_and_an_ended_ones_live_gauge_goes(client, db, scraper):
    pids = [
        int(
            subprocess.run(
                [sys.executable, "-c", COUNT_IN_A_PROCESS],
                cwd=ROOT,
                env=os.environ.copy(),
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(2)
    ]
    # Other processes (a live server) may hold streams open meanwhile: the ended processes'
    # own gauge files say what is theirs.
    live = [
        var.metrics_folder() / f"gauge_livesum_{var.metrics_process_id(pid)}.db" for pid in pids
    ]
    during = scrape(client, scraper)
    held = [path.exists() for path in live]
    for pid in pids:
        var.metrics_process_ended(pid)
    after = scrape(client, scraper)

    syncs = "assistant_source_syncs_total"
    assert value(during, syncs, outcome="two-processes") == 6
    assert held == [True, True] and not any(path.exists() for path in live)
    assert value(after, syncs, outcome="two-processes") == 6  # counters outlive their process
