"""The audit log's retention, run by beat."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from assistant.audit import log


@shared_task
def prune_audit_log() -> int:
    return log.prune(settings.AUDIT_RETENTION_DAYS)
