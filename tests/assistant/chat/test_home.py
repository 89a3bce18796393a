from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_home_page_shows_the_app_is_alive_with_its_provider_and_embedder(client):
    response = client.get("/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "The assistant is running" in page
    assert "extractive" in page
    assert "universal-sentence-encoder-multilingual-3" in page
    assert 'href="/admin/"' in page
    assert 'href="/api/docs"' in page
    assert "/static/django_htmx/htmx-2.min.js" in page


@pytest.mark.django_db
def test_health_endpoint_reports_provider_embedder_and_pgvector(client):
    body = client.get("/api/v1/health").json()

    assert body["status"] == "ok"
    assert body["provider"] == "extractive"
    assert body["embedding_dimensions"] == 512
    assert body["pgvector"] == "0.8.6"


@pytest.mark.django_db
def test_api_docs_and_schema_are_served(client):
    assert client.get("/api/docs").status_code == 200
    schema = client.get("/api/openapi.json").json()
    assert "/api/v1/health" in schema["paths"]


@pytest.mark.django_db
def test_the_provider_follows_the_key(client, settings):
    settings.ANSWER_PROVIDER = "qwen"

    body = client.get("/api/v1/health").json()

    assert (body["provider"], body["model"]) == ("qwen", "qwen-plus")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/api/docs", "/admin/login/"])
def test_every_page_carries_a_content_security_policy_without_inline_script(client, path):
    policy = client.get(path)["Content-Security-Policy"]

    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
