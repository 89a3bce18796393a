from __future__ import annotations

from celery import shared_task
from django.db import connection


@shared_task
def ping(value: str) -> dict[str, str]:
    """Answer from inside a worker, with the database it sees: proves the whole round trip."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (database,) = cursor.fetchone()
    return {"echo": value, "database": database}
