from __future__ import annotations

from celery import shared_task
from django.db import connection

from assistant import chat


@shared_task
def ping(value: str) -> dict[str, str]:
    """Answer from inside a worker, with the database it sees: proves the whole round trip."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (database,) = cursor.fetchone()
    return {"echo": value, "database": database}


@shared_task
def close_abandoned_answers() -> int:
    return chat.close_abandoned_answers()
