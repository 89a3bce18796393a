"""The audit log in the admin, read-only, with its CSV export; and the mixin that writes an
entry for every add, change and delete made through an admin page."""

from __future__ import annotations

import csv

from django.contrib import admin
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _

from assistant.audit import log
from assistant.audit.models import AuditEntry

CSV_COLUMNS = [
    "at",
    "actor_id",
    "actor_name",
    "address",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "changes",
    "request_id",
]


def csv_response(entries, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow(
            [
                entry.at.isoformat(),
                entry.actor_id or "",
                entry.actor_name,
                entry.address or "",
                entry.action,
                entry.object_type,
                entry.object_id,
                entry.object_repr,
                log.json_text(entry.changes),
                entry.request_id,
            ]
        )
    return response


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Nobody adds, changes or deletes entries here, superusers included."""

    list_display = ["at", "actor_name", "address", "action", "object_repr", "request_id"]
    list_filter = ["action", "object_type", "at"]
    search_fields = ["actor_name", "object_repr", "object_id", "request_id", "address"]
    date_hierarchy = "at"
    actions = ["export_csv"]
    readonly_fields = CSV_COLUMNS

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Export the selected entries as CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        log.record(log.Action.AUDIT_EXPORTED, changes={"entries": queryset.count()})
        return csv_response(queryset.order_by("at", "id"), "audit-log.csv")


class Audited:
    """For a ModelAdmin: every add, change and delete through it is an audit entry, a change
    with each field's before and after. `audit_as` names the object kind ("user" gives
    user.created, user.changed, user.deleted)."""

    audit_as: str = ""
    # Inline rows audited as their own kind, by model name: {"quotaoverride": "quota"}.
    audit_inlines: dict[str, str] = {}

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changes = log.form_changes(form, created=not change)
        if changes or not change:
            verb = "changed" if change else "created"
            log.record(f"{self.audit_as}.{verb}", target=obj, changes=changes)

    def delete_model(self, request, obj):
        log.record(f"{self.audit_as}.deleted", target=obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        log.record_each(f"{self.audit_as}.deleted", queryset)
        super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change):
        """An inline's rows (a user's quota override) are audited as their own kind."""
        kind = self.audit_inlines.get(formset.model._meta.model_name)
        if kind:  # recorded first: a deleted row has no id afterwards
            deleted = [inline.instance for inline in formset.deleted_forms if inline.instance.pk]
            log.record_each(f"{kind}.deleted", deleted)
        super().save_formset(request, form, formset, change)
        if not kind:
            return
        for inline in formset.forms:
            if inline.instance in formset.new_objects:
                verb, created = "created", True
            elif any(inline.instance == obj for obj, _fields in formset.changed_objects):
                verb, created = "changed", False
            else:
                continue
            changes = log.form_changes(inline, created=created)
            log.record(f"{kind}.{verb}", target=inline.instance, changes=changes)
