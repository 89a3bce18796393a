"""Writing to the audit log, and its retention.

The request's id, address and signed-in user come from the request context
(`assistant.lib.request_id`), so a caller names only the action, the object and what changed.
"""

from __future__ import annotations

import datetime
import decimal
import json
from collections.abc import Iterable
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.utils import timezone

from assistant.audit.models import AuditEntry
from assistant.lib import request_id

Action = AuditEntry.Action
# Never written into an entry, not even hashed.
SECRET_FIELDS = {"password", "password1", "password2", "usable_password", "digest"}


def record(
    action: str,
    *,
    actor=None,
    actor_name: str = "",
    target: models.Model | None = None,
    changes: dict | None = None,
) -> AuditEntry:
    """One entry. `actor` defaults to the request's signed-in user; `actor_name` names someone
    who is not (a failed sign-in's username)."""
    if actor is None and (user_id := request_id.current_user_id()) is not None:
        actor = get_user_model().objects.filter(pk=user_id).first()
    return AuditEntry.objects.create(
        actor_id=getattr(actor, "pk", None),
        actor_name=(actor.get_username() if actor is not None else actor_name)[:150],
        address=request_id.current_address(),
        action=action,
        object_type=target._meta.label_lower if target is not None else "",
        object_id=str(target.pk) if target is not None and target.pk is not None else "",
        object_repr=str(target)[:200] if target is not None else "",
        changes=changes or {},
        request_id=request_id.current(),
    )


def plain(value):
    """A value as the log keeps it: JSON-friendly, related objects by name."""
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, models.QuerySet | list | tuple | set):
        return sorted(str(plain(item)) for item in value)
    if isinstance(value, datetime.date | datetime.time | decimal.Decimal):
        return str(value)
    return value


def form_changes(form, *, created: bool) -> dict:
    """{"field": [before, after]} for the fields a form changed (before is None when it made
    the object); secrets never."""
    return {
        name: [None if created else plain(form.initial.get(name)), plain(form.cleaned_data[name])]
        for name in form.changed_data
        if name not in SECRET_FIELDS and name in form.cleaned_data
    }


def json_text(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def record_each(action: str, targets: Iterable[models.Model], **kwargs) -> None:
    for target in targets:
        record(action, target=target, **kwargs)


def prune(retention_days: int) -> int:
    """Delete entries older than `retention_days` (0 keeps them all); returns how many went.

    The only way an entry leaves: the table's trigger refuses every other UPDATE or DELETE.
    """
    if retention_days <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=retention_days)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL assistant.audit_prune = 'on'")
        cursor.execute("DELETE FROM assistant_auditentry WHERE at < %s", [cutoff])
        return cursor.rowcount
