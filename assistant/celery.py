"""The Celery app. Tasks live in `assistant.chat.tasks` and `ingest.tasks`."""

from __future__ import annotations

import os

from celery import Celery
from django.db import connection

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assistant.settings")

app = Celery("assistant")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["assistant.chat", "ingest"])


@app.task
def ping(value: str) -> dict[str, str]:
    """Answer from inside a worker, with the database it sees: proves the whole round trip."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (database,) = cursor.fetchone()
    return {"echo": value, "database": database}
