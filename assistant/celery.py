"""The Celery app. Tasks live in `assistant.chat.tasks` and `ingest.tasks`.

A task carries the request id (and user id) of the request that queued it, in its message
headers; a task queued by beat gets an id of its own. The worker's log lines show it.
"""

from __future__ import annotations

import os

from celery import Celery, signals
from django.conf import settings
from django.db import connection

from assistant.lib import log_format, request_id, tracing, var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assistant.settings")

app = Celery("assistant")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["assistant.audit", "assistant.chat", "ingest"])


@app.task
def ping(value: str) -> dict[str, str]:
    """Answer from inside a worker, with the database it sees: proves the whole round trip."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (database,) = cursor.fetchone()
    return {"echo": value, "database": database}


@signals.worker_init.connect
def _trace_the_worker(**_) -> None:
    tracing.configure(celery_worker=True)


@signals.before_task_publish.connect
def _carry_request_id(headers=None, **_) -> None:
    if headers is not None and (current := request_id.current()):
        headers["request_id"] = current
        headers["request_user_id"] = request_id.current_user_id()


@signals.task_prerun.connect
def _bind_request_id(task=None, **_) -> None:
    given = getattr(task.request, "request_id", None)
    request_id.bind(given or request_id.new_id(), getattr(task.request, "request_user_id", None))


@signals.task_postrun.connect
def _unbind_request_id(**_) -> None:
    request_id.bind("")


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _log_lines_as_the_web_writes_them(logger=None, **_) -> None:
    """Celery sets up its own handlers: they write our lines, request id included."""
    request_id.install_log_records()
    for handler in logger.handlers:
        handler.setFormatter(log_format.formatter(settings.LOG_FORMAT))


@signals.worker_process_shutdown.connect
def _pool_process_ended(pid=None, **_) -> None:
    var.metrics_process_ended(pid or os.getpid())
