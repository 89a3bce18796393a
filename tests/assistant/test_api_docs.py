"""The API docs work on an air-gapped site: Swagger UI comes from our own static files."""

from __future__ import annotations

import re


def test_the_api_docs_load_swagger_ui_from_our_static_files(client):
    page = client.get("/api/docs").content.decode()

    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page)
    assert assets, "the page names its script and stylesheet"
    assert all(url.startswith("/static/") for url in assets), assets
    assert "https://" not in page and "cdn" not in page.lower()
    for url in assets:
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"".join(response.streaming_content), url
