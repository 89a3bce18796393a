from __future__ import annotations

from django.contrib.auth.models import Permission

from ingest import pipeline
from ingest.models import Collection, Document
from tests.ingest import files


def test_upload_through_the_api_and_follow_the_status(admin_client, collection):
    response = admin_client.post(
        f"/api/v1/collections/{collection.pk}/documents",
        {"files": [_file("guide.md", b"# Guide\n\nHello."), _file("bad.pdf", files.png())]},
    )

    body = response.json()
    assert response.status_code == 202
    assert [item["document"]["status"] for item in body] == ["queued", "queued"]
    for item in body:
        pipeline.process(item["document"]["id"])
    first = admin_client.get(f"/api/v1/documents/{body[0]['document']['id']}").json()
    second = admin_client.get(f"/api/v1/documents/{body[1]['document']['id']}").json()
    assert (first["status"], first["chunk_count"], first["title"]) == ("ready", 1, "Guide")
    assert second["status"] == "failed"
    assert "PNG image" in second["failure_reason"]


def test_a_duplicate_upload_names_the_existing_document(admin_client, collection):
    url = f"/api/v1/collections/{collection.pk}/documents"
    first = admin_client.post(url, {"files": [_file("a.txt", b"same")]}).json()[0]

    again = admin_client.post(url, {"files": [_file("b.txt", b"same")]}).json()[0]

    assert again["duplicate"] is True
    assert again["document"]["id"] == first["document"]["id"]


def test_a_stylesheet_is_skipped_with_a_message_and_no_document(admin_client, collection):
    body = admin_client.post(
        f"/api/v1/collections/{collection.pk}/documents",
        {"files": [_file("site.css", b"body { margin: 0 }"), _file("guide.md", b"# Guide")]},
    ).json()

    assert body[0] == {
        "duplicate": False,
        "skipped": True,
        "failed": False,
        "message": "Skipped site.css: a stylesheet is not a document.",
        "document": None,
    }
    assert body[1]["skipped"] is False
    assert list(Document.objects.values_list("source_path", flat=True)) == ["guide.md"]


def test_refusals_answered_in_the_request_follow_its_language(
    admin_client, client, django_user_model, collection, settings
):
    settings.UPLOAD_MAX_MB = 1
    url = f"/api/v1/collections/{collection.pk}/documents"
    uploads = [_file("site.css", b"body { margin: 0 }"), _file("big.txt", b"x" * (2 * 2**20))]
    client.force_login(django_user_model.objects.create_user("reader", password="pw-reader-1"))

    chinese = admin_client.post(url, {"files": uploads}, HTTP_ACCEPT_LANGUAGE="zh-CN").json()
    forbidden = client.post(url, {"files": [_file("a.txt", b"hi")]}, HTTP_ACCEPT_LANGUAGE="zh-CN")

    assert chinese[0]["message"] == "已跳过 site.css：样式表不是文档。"
    assert chinese[1]["message"] == "文件大小为 2 MB，上限为 1 MB。"
    assert chinese[1]["document"]["failure_reason"] == "文件大小为 2 MB，上限为 1 MB。"
    assert forbidden.json()["error"] == {
        "code": "forbidden",
        "message": "你的账号无权修改文档，请联系管理员。",
    }


def test_oversized_upload_is_refused_with_the_limit(admin_client, collection, settings):
    settings.UPLOAD_MAX_MB = 1

    body = admin_client.post(
        f"/api/v1/collections/{collection.pk}/documents",
        {"files": [_file("big.txt", b"x" * (2 * 2**20 + 10))]},
    ).json()

    assert body[0]["document"]["status"] == "failed"
    assert body[0]["message"] == "The file is 2 MB; the limit is 1 MB."


def test_readers_cannot_upload_or_see_unreadable_documents(client, django_user_model):
    private = Collection.objects.create(name="Private")
    secret = pipeline.submit(collection=private, source_path="s.txt", data=b"secret").document
    public = Collection.objects.create(name="Public", is_public=True)
    reader = django_user_model.objects.create_user("reader", password="pw-reader-123")
    client.force_login(reader)

    upload = client.post(
        f"/api/v1/collections/{public.pk}/documents", {"files": [_file("a.txt", b"hi")]}
    )
    peek = client.get(f"/api/v1/documents/{secret.pk}")
    listing = client.get("/api/v1/collections").json()

    assert upload.status_code == 403
    assert upload.json()["error"]["code"] == "forbidden"
    assert peek.status_code == 404
    assert peek.json() == {"error": {"code": "not_found", "message": "Not found."}}
    assert [c["name"] for c in listing] == ["Public"]
    assert Document.objects.count() == 1


def test_a_user_with_the_permission_can_upload(client, django_user_model, collection):
    user = django_user_model.objects.create_user("editor", password="pw-editor-123")
    user.user_permissions.add(Permission.objects.get(codename="add_document"))
    client.force_login(user)

    response = client.post(
        f"/api/v1/collections/{collection.pk}/documents", {"files": [_file("a.txt", b"hi")]}
    )

    assert response.status_code == 202


def test_the_api_needs_a_login(client, collection):
    response = client.get("/api/v1/collections")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def _file(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)
