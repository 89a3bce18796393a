"""Every response under /api/ is the documented {"error": {"code", "message"}}, with the right
status: bad tokens, wrong methods and unknown paths included."""

from __future__ import annotations

import pytest
from django.test import Client

from assistant.accounts import tokens

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)  # as a real browser or script meets the API


def error(response) -> tuple[int, str]:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return response.status_code, body["error"]["code"]


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Bearer ", None])
@pytest.mark.parametrize(
    ("method", "path"), [("post", "/api/v1/ask"), ("delete", "/api/v1/documents/1")]
)
def test_a_bad_or_missing_token_is_a_401_on_any_method(browser, header, method, path):
    headers = {"Authorization": header} if header else {}

    response = getattr(browser, method)(
        path, data='{"question": "hi"}', content_type="application/json", headers=headers
    )

    assert error(response) == (401, "unauthorized")


def test_a_revoked_token_is_a_401(browser, django_user_model):
    user = django_user_model.objects.create_user("ann")
    row, token = tokens.create(user, "bot")
    tokens.revoke(user, row.pk)

    response = browser.delete("/api/v1/documents/1", headers={"Authorization": f"Bearer {token}"})

    assert error(response) == (401, "unauthorized")


@pytest.mark.parametrize(("method", "path"), [("get", "/api/v1/ask"), ("put", "/api/v1/search")])
def test_a_method_the_path_does_not_take_is_a_json_405(browser, method, path):
    response = getattr(browser, method)(path)

    assert error(response) == (405, "method_not_allowed")
    assert response["Allow"]


def test_an_unknown_api_path_is_a_json_404(browser):
    assert error(browser.get("/api/v1/no-such-thing")) == (404, "not_found")
    assert error(browser.get("/api/nothing/here")) == (404, "not_found")


@pytest.mark.parametrize("path", ["/api", "/api/"])
def test_the_api_root_is_a_json_404_pointing_to_v1_and_the_docs(browser, path):
    response = browser.get(path)

    assert error(response) == (404, "not_found")
    assert "/api/v1/" in response.json()["error"]["message"]
    assert "/api/docs" in response.json()["error"]["message"]


def test_pages_outside_the_api_keep_their_html_errors(browser):
    response = browser.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
