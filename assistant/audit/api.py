"""The audit log over the JSON API, for admins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext
from ninja import Field, Query, Router, Schema

from assistant.audit.models import AuditEntry
from assistant.lib.api import ApiError

router = Router(tags=["audit"])


class AuditEntryOut(Schema):
    id: int
    at: datetime
    actor_id: int | None
    actor_name: str
    address: str | None
    action: AuditEntry.Action
    object_type: str
    object_id: str
    object_repr: str
    changes: dict[str, Any] = Field(description='{"field": [before, after]} for a change.')
    request_id: str


class AuditFilters(Schema):
    since: datetime | None = Field(None, description="Entries at or after this time.")
    actor: str = Field("", description="A username, or a user id.")
    action: AuditEntry.Action | None = None
    limit: int = Field(100, ge=1, le=1000, description="Newest first, at most this many.")


@router.get("/audit", response=list[AuditEntryOut])
def audit_log(request, filters: Query[AuditFilters]):
    """Who did what, newest first (admin role)."""
    if not request.auth.has_perm("assistant.view_auditentry"):
        raise ApiError(403, "forbidden", gettext("Only admins may read the audit log."))
    entries = AuditEntry.objects.all()
    if filters.since:
        entries = entries.filter(at__gte=filters.since)
    if filters.actor.isdigit():
        entries = entries.filter(actor_id=int(filters.actor))
    elif filters.actor:
        entries = entries.filter(actor_name=filters.actor)
    if filters.action:
        entries = entries.filter(action=filters.action)
    return entries[: filters.limit]
