from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from assistant.celery import app, ping
from assistant.chat import conversations
from assistant.chat.models import Conversation, Message
from ingest import pipeline
from ingest.models import Collection, Document
from tests.conftest import ROOT, running_worker
from tests.support.waiting import wait_for


def test_a_real_worker_runs_a_task_through_the_filesystem_transport(celery_worker, settings):
    assert settings.CELERY_BROKER_URL == "filesystem://"

    result = ping.delay("hello").get(timeout=60)

    assert result == {"echo": "hello", "database": connection.settings_dict["NAME"]}


def test_broadcasts_keep_their_files_under_var_not_where_the_process_started(
    celery_worker, settings
):
    deadline = time.monotonic() + 60  # the worker may still be starting
    while not (replies := app.control.ping(timeout=1)) and time.monotonic() < deadline:
        pass

    control = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["control_folder"])
    assert replies, "the worker answered the broadcast"
    assert control.is_relative_to(settings.VAR_DIR)
    assert (control / "celery.pidbox.exchange").exists()
    assert not (ROOT / "control").exists()


def test_every_task_the_beat_schedule_names_is_a_registered_task():
    app.loader.import_default_modules()  # what a worker does at start: the tasks' modules

    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}

    assert scheduled <= set(app.tasks), scheduled - set(app.tasks)
    assert scheduled == {
        "ingest.tasks.requeue_stale_documents",
        "ingest.tasks.fill_background_legs",
        "ingest.tasks.sync_due_sources",
        "assistant.chat.tasks.close_abandoned_answers",
        "assistant.audit.tasks.prune_audit_log",
    }


@pytest.mark.django_db(transaction=True)
def test_the_sweepers_run_from_beat_in_a_real_worker(django_user_model, tmp_path):
    owner = django_user_model.objects.create_user("ann", password="pw-ann-123456")
    # An answer whose web server died mid-stream: open, its heartbeat long stale.
    answer = conversations.ask(
        conversation=Conversation.objects.create(owner=owner),
        question="How many questions may I ask?",
        high_accuracy=False,
    )
    Message.objects.filter(pk=answer.pk).update(
        status=Message.Status.GENERATING,
        text="Each person may",
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    # A document stored by a request that died before queueing its task.
    document = pipeline.submit(
        collection=Collection.objects.create(name="Ops"),
        source_path="backups.md",
        data=b"# Backups\n\nRun pg_dump nightly.",
    ).document
    Document.objects.filter(pk=document.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    sweeps = {"ANSWER_SWEEP_S": "1", "INGEST_SWEEP_S": "1"}

    with running_worker(sweeps, "--beat", f"--schedule={tmp_path / 'beat-schedule'}"):
        wait_for(lambda: Message.objects.get(pk=answer.pk).status == Message.Status.INTERRUPTED)
        wait_for(lambda: Document.objects.get(pk=document.pk).status == Document.Status.READY)

    answer.refresh_from_db()
    assert answer.text == "Each person may" and answer.quota_settled
    assert Document.objects.get(pk=document.pk).chunks.count() == 1
