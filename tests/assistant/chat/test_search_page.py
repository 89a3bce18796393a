from __future__ import annotations

import pytest

from ingest.models import Collection
from tests.support.documents import ingest_text

GUIDE = """# Uploading documents

Administrators upload PDF, DOCX, HTML and Markdown files. The size limit is 50 MB per file.

## Scanned files

Scanned PDFs have no text layer: run OCR on them before uploading.
"""


@pytest.fixture
def reader(db, django_user_model, client):
    public = Collection.objects.create(name="Guide", is_public=True)
    ingest_text(public, "guide/upload.md", GUIDE)
    hidden = Collection.objects.create(name="Hidden")
    ingest_text(hidden, "hidden.md", "# Hidden\n\nThe upload size limit for executives is 5 GB.")
    user = django_user_model.objects.create_user("staff", password="pw-staff-12345")
    client.force_login(user)
    return client


def test_search_page_shows_hits_with_highlighted_terms_and_a_source_link(reader):
    page = reader.get("/search/", {"q": "size limit for uploads"}).content.decode()

    assert "Uploading documents" in page
    assert "<mark>size</mark> <mark>limit</mark>" in page
    assert "guide/upload.md" in page
    assert 'class="copy"' in page
    assert "executives" not in page


def test_htmx_gets_only_the_results_fragment(reader):
    response = reader.get("/search/", {"q": "scanned"}, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results"')
    assert "<html" not in html
    assert "Scanned files" in html


def test_the_source_view_opens_the_document_at_the_chunk_highlighted(reader):
    hit = reader.post("/api/v1/search", {"query": "OCR"}, content_type="application/json").json()
    first = hit["passages"][0]

    page = reader.get(first["url"]).content.decode()

    assert f'id="chunk-{first["chunk_id"]}" class="chunk focus"' in page
    assert "Uploading documents › Scanned files" in page
    assert "Download the original" not in page, "readers without the permission get no file"


def test_the_search_api_returns_ranked_passages(reader):
    body = reader.post(
        "/api/v1/search",
        {"query": "how big may a file be?", "k": 3},
        content_type="application/json",
    ).json()

    top = body["passages"][0]
    assert top["source_path"] == "guide/upload.md"
    assert top["heading_path"] == "Uploading documents"
    assert "50 MB" in top["text"]
    assert {"score", "snippet", "page_start", "document_id", "chunk_id"} <= set(top)
    assert all(p["source_path"] != "hidden.md" for p in body["passages"])


def test_searching_an_unreadable_collection_returns_nothing(reader):
    hidden = Collection.objects.get(name="Hidden")

    body = reader.post(
        "/api/v1/search",
        {"query": "upload size limit", "collection_ids": [hidden.pk]},
        content_type="application/json",
    ).json()
    source = reader.get(f"/documents/{hidden.documents.get().pk}/")

    assert body["passages"] == []
    assert source.status_code == 404


@pytest.mark.django_db
def test_search_needs_a_login(client):
    ingest_text(Collection.objects.create(name="Guide", is_public=True), "guide.md", GUIDE)

    response = client.get("/search/", {"q": "size limit"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/search/%3Fq%3Dsize%2Blimit"
    api = client.post("/api/v1/search", {"query": "size limit"}, content_type="application/json")
    assert (api.status_code, api.json()["error"]["code"]) == (401, "unauthorized")
