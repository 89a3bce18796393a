from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from assistant.audit import log
from assistant.audit.admin import Audited
from ingest import backfill, views
from ingest.models import Chunk, Collection, Document, Source, SourceItem, SourceSync
from ingest.tasks import ingest_document, sync_source


@admin.register(Collection)
class CollectionAdmin(Audited, admin.ModelAdmin):
    """Who may read a collection (its readers, public or not) is audited with each change."""

    audit_as = "collection"
    list_display = [
        "name",
        "is_public",
        "language",
        "document_total",
        "english_waiting",
        "created_at",
    ]
    list_filter = ["is_public", "language"]
    search_fields = ["name", "description"]
    filter_horizontal = ["reader_users", "reader_groups"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                document_total=Count("documents"),
                english_waiting=backfill.waiting_per("collection"),
            )
        )

    @admin.display(description=_("Documents"), ordering="document_total")
    def document_total(self, collection):
        return collection.document_total

    @admin.display(description=_("Waiting for the English leg"), ordering="english_waiting")
    def english_waiting(self, collection):
        return english_leg(collection.english_waiting)


def english_leg(waiting: int) -> str:
    """Passages still waiting for the background English leg; a dash when it is off."""
    return "—" if settings.EMBEDDING_EN == "none" else str(waiting)


@admin.register(Document)
class DocumentAdmin(Audited, admin.ModelAdmin):
    audit_as = "document"
    list_display = [
        "display_title",
        "collection",
        "status_badge",
        "progress_bar",
        "version",
        "chunk_count",
        "english_waiting",
        "short_reason",
        "updated_at",
    ]
    list_filter = ["status", "collection", "media_type"]
    search_fields = ["title", "source_path", "sha256"]
    actions = ["retry"]
    change_list_template = "admin/ingest/document/change_list.html"
    readonly_fields = [
        *(f.name for f in Document._meta.fields if f.name not in {"title"}),
        "english_waiting",
    ]
    list_select_related = ["collection"]

    def get_queryset(self, request):
        return (
            super().get_queryset(request).annotate(english_waiting=backfill.waiting_per("document"))
        )

    @admin.display(description=_("Waiting for the English leg"), ordering="english_waiting")
    def english_waiting(self, document):
        return english_leg(document.english_waiting)

    def has_add_permission(self, request):
        return False  # documents come in through the upload page, the API or the CLI

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(views.upload), name="ingest_upload"),
            path(
                "upload/status/",
                self.admin_site.admin_view(views.upload_status),
                name="ingest_upload_status",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("Document"), ordering="title")
    def display_title(self, document):
        return format_html("{}<br><small>{}</small>", document.title or "—", document.source_path)

    @admin.display(description=_("Status"), ordering="status")
    def status_badge(self, document):
        return format_html(
            '<span class="badge badge-{}">{}</span>', document.status, document.get_status_display()
        )

    @admin.display(description=_("Progress"))
    def progress_bar(self, document):
        return format_html(
            '<progress max="100" value="{}"></progress> {}', document.progress, document.stage_now
        )

    @admin.display(description=_("Failure reason"))
    def short_reason(self, document):
        reason = document.failure_reason
        return reason if len(reason) < 160 else reason[:157] + "…"

    @admin.action(description=_("Retry the selected failed documents"))
    def retry(self, request, queryset):
        retried = [d for d in queryset if d.requeue()]
        for document in retried:
            ingest_document.delay_on_commit(document.pk)
        self.message_user(
            request,
            ngettext("Queued %(n)d document again.", "Queued %(n)d documents again.", len(retried))
            % {"n": len(retried)},
            messages.SUCCESS,
        )
        if retried:
            ids = ",".join(str(d.pk) for d in retried)
            return redirect(f"{reverse('admin:ingest_upload_status')}?ids={ids}")
        return None


@admin.register(Chunk)
class ChunkAdmin(admin.ModelAdmin):
    list_display = ["document", "ordinal", "heading_path", "pages", "token_count"]
    search_fields = ["text", "heading_path"]
    list_select_related = ["document"]
    exclude = ["embedding"]
    readonly_fields = [
        "document",
        "ordinal",
        "text",
        "heading_path",
        "page_start",
        "page_end",
        "token_count",
        "search_extra",
        "embedding_en_pending",
    ]

    def has_add_permission(self, request):
        return False


class SourceSyncInline(admin.TabularInline):
    model = SourceSync
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-started_at"]
    fields = [
        "started_at",
        "finished_at",
        "status",
        *SourceSync.COUNTS,
        "complete",
        "failure_reason",
    ]
    readonly_fields = fields
    verbose_name_plural = _("Syncs")

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-started_at")


class FailedItemInline(admin.TabularInline):
    model = SourceItem
    extra = 0
    max_num = 0
    can_delete = False
    fields = ["key", "reason", "http_status", "fetched_at"]
    readonly_fields = fields
    verbose_name_plural = _("What the last syncs could not read")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(state=SourceItem.State.FAILED)


@admin.register(Source)
class SourceAdmin(Audited, admin.ModelAdmin):
    audit_as = "source"
    list_display = [
        "name",
        "kind",
        "collection",
        "location",
        "every",
        "enabled",
        "last_started",
        "last_finished",
        "last_status",
        "last_counts",
        "next_sync_at",
    ]
    list_filter = ["kind", "enabled", "collection"]
    search_fields = ["name", "path", "sitemap_url"]
    actions = ["sync_now"]
    inlines = [SourceSyncInline, FailedItemInline]
    change_form_template = "admin/ingest/source/change_form.html"
    list_select_related = ["collection"]

    def get_urls(self):
        return [
            path(
                "<int:source_id>/sync/",
                self.admin_site.admin_view(self.sync_view),
                name="ingest_source_sync",
            ),
            *super().get_urls(),
        ]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def _last(self, source):
        if not hasattr(source, "_last"):
            source._last = source.last_sync
        return source._last

    @admin.display(description=_("Last sync started"))
    def last_started(self, source):
        last = self._last(source)
        return last.started_at if last else "—"

    @admin.display(description=_("Finished"))
    def last_finished(self, source):
        last = self._last(source)
        return (last.finished_at or "—") if last else "—"

    @admin.display(description=_("Status"))
    def last_status(self, source):
        last = self._last(source)
        if last is None:
            return _("never synced")
        return format_html(
            '<span class="badge badge-{}">{}</span>', last.status, last.get_status_display()
        )

    @admin.display(description=_("Seen / added / changed / unchanged / removed / failed"))
    def last_counts(self, source):
        last = self._last(source)
        if last is None:
            return "—"
        return " / ".join(
            str(getattr(last, name))
            for name in ("seen", "added", "changed", "unchanged", "removed", "failed")
        )

    def _queue(self, request, sources) -> None:
        for source in sources:
            sync_source.delay_on_commit(source.pk)
            log.record(log.Action.SOURCE_SYNCED, target=source)
        self.message_user(
            request,
            ngettext(
                "Queued a sync of %(n)d source.", "Queued syncs of %(n)d sources.", len(sources)
            )
            % {"n": len(sources)},
            messages.SUCCESS,
        )

    @admin.action(description=_("Sync now"), permissions=["change"])
    def sync_now(self, request, queryset):
        self._queue(request, list(queryset))

    def sync_view(self, request, source_id: int):
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        source = get_object_or_404(Source, pk=source_id)
        self._queue(request, [source])
        return redirect(reverse("admin:ingest_source_change", args=[source.pk]))
