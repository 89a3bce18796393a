from __future__ import annotations

from celery import shared_task

from assistant.chat import conversations


@shared_task
def close_abandoned_answers() -> int:
    return conversations.close_abandoned_answers()
