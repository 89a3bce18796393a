from __future__ import annotations

import time
from pathlib import Path

from django.db import connection

from assistant.celery import app, ping
from tests.conftest import ROOT


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
