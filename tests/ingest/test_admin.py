from __future__ import annotations

import re
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from ingest import pipeline
from ingest.models import Document
from tests.ingest import files


def upload(admin_client, collection, *uploads):
    return admin_client.post(
        "/admin/ingest/document/upload/",
        {"collection": collection.pk, "files": list(uploads)},
    )


def test_an_admin_uploads_good_and_broken_files_and_sees_each_status(admin_client, collection):
    response = upload(
        admin_client,
        collection,
        SimpleUploadedFile("guide.md", b"# Guide\n\nAsk in plain words."),
        SimpleUploadedFile("secret.pdf", files.pdf(["x"], password="pw")),
        SimpleUploadedFile("photo.pdf", files.png()),
    )
    assert response.status_code == 302
    status_url = response["Location"]
    for document in Document.objects.all():
        pipeline.process(document.pk)  # what the worker does; test_worker.py runs a real one

    page = admin_client.get(status_url).content.decode()

    assert re.search(r"guide\.md.*?Ready.*?1 passages", page, re.S)
    assert "The PDF is encrypted. Remove its password and upload it again." in page
    assert "named .pdf but its content is a PNG image" in page
    assert "All done." in page
    assert 'hx-trigger="every 1s"' not in page, "polling stops when everything finished"


def test_the_upload_report_lists_stylesheets_and_images_as_skipped(admin_client, collection):
    response = upload(
        admin_client,
        collection,
        SimpleUploadedFile("guide.md", b"# Guide\n\nAsk in plain words."),
        SimpleUploadedFile("site.css", b"body { margin: 0 }"),
        SimpleUploadedFile("logo.svg", b"<svg></svg>"),
    )

    page = admin_client.get(response["Location"]).content.decode()

    assert re.search(r"site\.css: a stylesheet.*?Skipped.*?Not a document", page, re.S)
    assert "logo.svg: an icon or a drawing" in page
    assert "2 skipped" in page
    assert list(Document.objects.values_list("source_path", flat=True)) == ["guide.md"]


def test_the_status_fragment_polls_while_documents_are_in_flight(admin_client, collection):
    response = upload(admin_client, collection, SimpleUploadedFile("a.txt", b"Plain words."))

    fragment = admin_client.get(response["Location"], headers={"HX-Request": "true"})

    html = fragment.content.decode()
    assert html.lstrip().startswith('<div id="status-table"')
    assert 'hx-trigger="every 1s"' in html
    assert "Queued" in html
    assert "<html" not in html


def test_uploading_the_same_bytes_twice_says_so(admin_client, collection):
    upload(admin_client, collection, SimpleUploadedFile("a.txt", b"Plain words."))

    response = upload(admin_client, collection, SimpleUploadedFile("b.txt", b"Plain words."))

    page = admin_client.get(response["Location"]).content.decode()
    assert "Already ingested" in page
    assert Document.objects.count() == 1


def test_retry_action_requeues_failed_documents(admin_client, collection):
    failed = pipeline.submit(collection=collection, source_path="x.txt", data=b"")
    pipeline.process(failed.document.pk)

    response = admin_client.post(
        "/admin/ingest/document/",
        {"action": "retry", "_selected_action": [failed.document.pk]},
    )

    failed.document.refresh_from_db()
    assert response.status_code == 302
    assert failed.document.status == Document.Status.QUEUED


def test_the_document_list_filters_by_status(admin_client, collection):
    pipeline.submit(collection=collection, source_path="x.txt", data=b"words")

    page = admin_client.get("/admin/ingest/document/?status__exact=queued").content.decode()

    assert "x.txt" in page
    assert "Upload documents" in page


def test_people_without_the_permission_cannot_upload(client, django_user_model, collection):
    user = django_user_model.objects.create_user("reader", password="pw-reader-123", is_staff=True)
    client.force_login(user)

    response = client.get("/admin/ingest/document/upload/")

    assert response.status_code in (302, 403)
    assert not Document.objects.exists()


def test_a_storage_error_names_itself_per_file_and_leaves_nothing_queued(
    admin_client, collection, settings, tmp_path
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the storage's folder should be")
    settings.MEDIA_ROOT = str(blocker / "media")

    response = upload(
        admin_client,
        collection,
        SimpleUploadedFile("a.md", b"# A\n\nFirst."),
        SimpleUploadedFile("b.md", b"# B\n\nSecond."),
    )

    assert response.status_code == 302
    page = admin_client.get(response["Location"]).content.decode()
    assert page.count("Not stored") == 2
    assert "could not be written to the document storage (Not a directory)" in page
    assert str(blocker / "media") in page
    assert not Document.objects.exists(), "no half-stored document waits for a task"


def test_a_run_whose_worker_died_says_it_waits_to_be_retried(admin_client, collection):
    document = pipeline.submit(collection=collection, source_path="a.md", data=b"words").document
    claim = document.claim_for_processing(lease_s=60)
    document.report(claim, lease_s=60, progress=92, stage=Document.Stage.EMBEDDING)
    Document.objects.filter(pk=document.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )

    page = admin_client.get("/admin/ingest/document/").content.decode()

    assert "its worker stopped; waiting to be retried" in page
