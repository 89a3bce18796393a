"""Documents in the browser: the admin's upload page with live status, the source view and
the original file."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_required, permission_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext

from assistant.audit import log
from ingest import tasks
from ingest.formats import IMAGES
from ingest.forms import UploadForm
from ingest.models import Document


@permission_required("ingest.add_document")
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        submissions = tasks.submit_each(
            form.cleaned_data["files"],
            collection=form.cleaned_data["collection"],
            uploaded_by=request.user,
        )
        query = {
            "ids": ",".join(str(s.document.pk) for s in submissions if s.document),
            "dup": ",".join(str(s.document.pk) for s in submissions if s.duplicate),
            "skipped": [_named(s.source_path, s.skipped) for s in submissions if s.skipped],
            "failed": [_named(s.source_path, s.failed) for s in submissions if s.failed],
        }
        return redirect(f"{reverse('admin:ingest_upload_status')}?{urlencode(query, doseq=True)}")
    context = {
        **admin.site.each_context(request),
        "form": form,
        "title": gettext("Upload documents"),
    }
    return TemplateResponse(request, "admin/ingest/upload.html", context)


@permission_required("ingest.view_document")
def upload_status(request: HttpRequest) -> TemplateResponse:
    ids = _ids(request.GET.get("ids", ""))
    duplicates = set(_ids(request.GET.get("dup", "")))
    documents = Document.objects.filter(pk__in=ids).select_related("collection")
    rows = sorted(documents, key=lambda d: ids.index(d.pk))
    context = {
        **admin.site.each_context(request),
        "title": gettext("Upload progress"),
        "rows": [(d, d.pk in duplicates) for d in rows],
        "skipped": request.GET.getlist("skipped")[:500],
        "failed": request.GET.getlist("failed")[:500],
        "finished": all(d.is_finished for d in rows),
    }
    template = "admin/ingest/upload_status.html"
    if request.htmx:
        template += "#status-table"
    return TemplateResponse(request, template, context)


def _named(path: str, what: str) -> str:
    return gettext("%(path)s: %(what)s") % {"path": path, "what": what}


def _ids(raw: str) -> list[int]:
    return [int(part) for part in raw.split(",") if part.strip().isdigit()][:500]


@login_required
def source(request: HttpRequest, document_id: int) -> TemplateResponse:
    """A document opened at one chunk (?chunk=ID), that chunk highlighted and scrolled to."""
    document = get_object_or_404(
        Document.objects.readable_by(request.user).select_related("collection"), pk=document_id
    )
    try:
        focus = int(request.GET.get("chunk", ""))
    except ValueError:
        focus = None
    chunks = list(document.chunks.order_by("ordinal"))
    scanned = set(document.ocr_pages)
    for chunk in chunks:
        chunk.from_image = document.media_type in IMAGES or chunk.page_start in scanned
    context = {
        "document": document,
        "chunks": chunks,
        "focus": focus,
        "can_download": bool(document.file) and request.user.has_perm("ingest.view_document"),
    }
    return TemplateResponse(request, "ingest/source.html", context)


@login_required
def download(request: HttpRequest, document_id: int) -> FileResponse:
    document = get_object_or_404(Document.objects.readable_by(request.user), pk=document_id)
    if not request.user.has_perm("ingest.view_document") or not document.file:
        raise Http404
    name = document.source_path.rsplit("/", 1)[-1]
    log.record(log.Action.DOCUMENT_DOWNLOADED, target=document)
    # Served as an attachment with its sniffed type: an uploaded HTML page never runs here.
    return FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=name,
        content_type=document.media_type or "application/octet-stream",
    )
