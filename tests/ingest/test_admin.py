from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation

from assistant.accounts import roles
from assistant.accounts.models import UserLanguage
from ingest import backfill, pipeline
from ingest.models import Document
from tests.ingest import files
from tests.support.broker import queued_tasks


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


@pytest.mark.parametrize(
    ("saved", "browser", "worker", "empty", "unknown"),
    [
        (
            "zh-hans",
            "en",
            "en",
            "文件为空。",
            "该文件是未知类型的二进制数据；支持的类型有 PDF、Word（.docx）",
        ),
        (
            "en",
            "zh-CN",
            "zh-hans",
            "The file is empty.",
            "The file is binary data of an unknown type; supported types are PDF, Word (.docx)",
        ),
    ],
)
def test_a_failure_reason_is_written_in_the_uploaders_saved_language(
    client, admin_user, collection, saved, browser, worker, empty, unknown
):
    """The worker writes the reason with nobody reading: in the language the uploader chose,
    whatever their browser asks for and whatever the worker's own language is."""
    UserLanguage.objects.create(user=admin_user, language=saved)
    client.force_login(admin_user)
    response = client.post(
        "/admin/ingest/document/upload/",
        {
            "collection": collection.pk,
            "files": [
                SimpleUploadedFile("blank.txt", b"  \n"),
                SimpleUploadedFile("data.bin", b"\x00\x01\x02\x03" * 64),
            ],
        },
        HTTP_ACCEPT_LANGUAGE=browser,
    )
    with translation.override(worker):  # the worker's language, not the uploader's
        for document in Document.objects.all():
            pipeline.process(document.pk)

    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE=browser).content.decode()

    reasons = dict(Document.objects.values_list("source_path", "failure_reason"))
    assert reasons["blank.txt"] == empty
    assert reasons["data.bin"].startswith(unknown)
    assert empty in page and unknown in page


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


def test_retry_action_requeues_failed_documents(
    admin_client, collection, settings, django_capture_on_commit_callbacks
):
    failed = pipeline.submit(collection=collection, source_path="x.txt", data=b"")
    pipeline.process(failed.document.pk)
    ready = pipeline.submit(collection=collection, source_path="y.txt", data=b"words")
    pipeline.process(ready.document.pk)
    before = queued_tasks(settings)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/ingest/document/",
            {"action": "retry", "_selected_action": [failed.document.pk, ready.document.pk]},
        )

    failed.document.refresh_from_db()
    assert response.status_code == 302
    assert failed.document.status == Document.Status.QUEUED
    assert Document.objects.get(pk=ready.document.pk).status == Document.Status.READY
    assert queued_tasks(settings)[len(before) :] == [
        ("ingest.tasks.ingest_document", [failed.document.pk])
    ], "one task for the failed document, none for the ready one"


def test_the_document_list_filters_by_status(admin_client, collection):
    pipeline.submit(collection=collection, source_path="waiting.txt", data=b"words")
    for name, data in [("done.txt", b"words here"), ("broken.txt", b"")]:
        pipeline.process(
            pipeline.submit(collection=collection, source_path=name, data=data).document.pk
        )
    names = {"waiting.txt", "done.txt", "broken.txt"}

    def listed(status: str) -> set[str]:
        page = admin_client.get(f"/admin/ingest/document/?status__exact={status}")
        return {name for name in names if name in page.content.decode()}

    assert listed("queued") == {"waiting.txt"}
    assert listed("ready") == {"done.txt"}
    assert listed("failed") == {"broken.txt"}
    assert "Upload documents" in admin_client.get("/admin/ingest/document/").content.decode()


def test_support_staff_may_not_upload_and_admins_may(client, django_user_model, collection):
    user = django_user_model.objects.create_user("support", password="pw-support-123")
    user.groups.add(Group.objects.get(name=roles.STAFF))  # in the admin site, may read documents
    client.force_login(user)

    def upload_as_user():
        return upload(client, collection, SimpleUploadedFile("a.md", b"# A\n\nWords."))

    refused = [client.get("/admin/ingest/document/upload/"), upload_as_user()]

    assert client.get("/admin/ingest/document/").status_code == 200, "staff reach the admin"
    login = "/accounts/login/?next=/admin/ingest/document/upload/"
    assert [(r.status_code, r["Location"]) for r in refused] == [(302, login)] * 2
    assert not Document.objects.exists()

    user.groups.add(Group.objects.get(name=roles.ADMIN))
    client.force_login(django_user_model.objects.get(pk=user.pk))  # permissions are cached
    allowed = upload_as_user()

    assert allowed["Location"].startswith("/admin/ingest/document/upload/status/")
    assert list(Document.objects.values_list("source_path", flat=True)) == ["a.md"]


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


def test_document_and_collection_pages_say_how_many_passages_wait_for_the_english_leg(
    admin_client, collection
):
    text = "\n\n".join(f"Paragraph {i} about checkpoints and the WAL." for i in range(90))
    document = pipeline.process(
        pipeline.submit(collection=collection, source_path="wal.md", data=text.encode()).document.pk
    )
    waiting = document.chunk_count
    assert waiting > 1

    def column(url: str) -> str:
        page = admin_client.get(url).content.decode()
        [cell] = re.findall(r'<td class="field-english_waiting">(.*?)</td>', page)
        return cell

    assert column("/admin/ingest/document/") == str(waiting)
    assert column("/admin/ingest/collection/") == str(waiting)
    change = admin_client.get(f"/admin/ingest/document/{document.pk}/change/").content.decode()
    assert "Waiting for the English leg" in change

    backfill.fill()

    assert column("/admin/ingest/document/") == "0"
    assert column("/admin/ingest/collection/") == "0"
