"""The admin's upload page and its live per-file status (one URL serves page and fragment)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from ingest import pipeline
from ingest.forms import UploadForm
from ingest.models import Document


@permission_required("ingest.add_document")
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        submissions = [
            pipeline.submit_upload(
                collection=form.cleaned_data["collection"], upload=upload, uploaded_by=request.user
            )
            for upload in form.cleaned_data["files"]
        ]
        ids = ",".join(str(s.document.pk) for s in submissions)
        duplicates = ",".join(str(s.document.pk) for s in submissions if s.duplicate)
        return redirect(f"{reverse('admin:ingest_upload_status')}?ids={ids}&dup={duplicates}")
    context = {**admin.site.each_context(request), "form": form, "title": "Upload documents"}
    return TemplateResponse(request, "admin/ingest/upload.html", context)


@permission_required("ingest.view_document")
def upload_status(request: HttpRequest) -> TemplateResponse:
    ids = _ids(request.GET.get("ids", ""))
    duplicates = set(_ids(request.GET.get("dup", "")))
    documents = Document.objects.filter(pk__in=ids).select_related("collection")
    rows = sorted(documents, key=lambda d: ids.index(d.pk))
    context = {
        **admin.site.each_context(request),
        "title": "Upload progress",
        "rows": [(d, d.pk in duplicates) for d in rows],
        "finished": all(d.is_finished for d in rows),
    }
    template = "admin/ingest/upload_status.html"
    if request.htmx:
        template += "#status-table"
    return TemplateResponse(request, template, context)


def _ids(raw: str) -> list[int]:
    return [int(part) for part in raw.split(",") if part.strip().isdigit()][:500]
