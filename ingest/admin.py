from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ingest import views
from ingest.models import Chunk, Collection, Document
from ingest.tasks import ingest_document


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ["name", "is_public", "language", "document_total", "created_at"]
    list_filter = ["is_public", "language"]
    search_fields = ["name", "description"]
    filter_horizontal = ["reader_users", "reader_groups"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(document_total=Count("documents"))

    @admin.display(description=_("Documents"), ordering="document_total")
    def document_total(self, collection):
        return collection.document_total


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = [
        "display_title",
        "collection",
        "status_badge",
        "progress_bar",
        "version",
        "chunk_count",
        "short_reason",
        "updated_at",
    ]
    list_filter = ["status", "collection", "media_type"]
    search_fields = ["title", "source_path", "sha256"]
    actions = ["retry"]
    change_list_template = "admin/ingest/document/change_list.html"
    readonly_fields = [f.name for f in Document._meta.fields if f.name not in {"title"}]
    list_select_related = ["collection"]

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
    ]

    def has_add_permission(self, request):
        return False
