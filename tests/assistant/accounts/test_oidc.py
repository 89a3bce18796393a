"""Signing in at a real OpenID provider (django-oauth-toolkit on loopback, started here): the
account made at the first sign-in, groups mapped to roles, and every way a sign-in can go wrong
ending on the login page with a clear message, a log line and no account. The last test drives
the whole round trip, sign-out included, in Chromium."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from assistant.accounts import oidc, tokens
from assistant.accounts.models import DirectoryGroup, ExternalIdentity
from assistant.audit.models import AuditEntry
from assistant.lib.ports import free_port
from tests.assistant.test_browser import chromium, watch_for_csp_violations
from tests.conftest import ROOT, worker_database_url
from tests.support import app_server
from tests.support.oidc_provider import PASSWORD, Provider


@pytest.fixture(scope="module")
def provider():
    started = Provider().start()
    yield started
    started.stop()


@pytest.fixture
def idp(settings, provider, db):
    """The app in this process signing in at the provider; its groups "staff-team" and
    "admins" mapped to our staff and admin roles."""
    settings.OIDC_ISSUER = provider.issuer
    settings.OIDC_CLIENT_ID = provider.client_id
    settings.OIDC_CLIENT_SECRET = provider.client_secret
    settings.OIDC_PROVIDER_NAME = "Test SSO"
    # The test client's host is "testserver"; the provider knows the app at 127.0.0.1.
    settings.OIDC_PUBLIC_URL = "http://127.0.0.1"
    settings.DIRECTORY_GROUP_MAP = {"staff-team": ["staff"], "admins": ["admin"]}
    return provider


def _start(client, next_url: str = ""):
    response = client.get("/accounts/oidc/login", {"next": next_url} if next_url else {})
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


def _back(client, location: str):
    """The browser's return to our callback with the provider's answer."""
    parts = urlsplit(location)
    assert parts.path == "/accounts/oidc/callback", location
    return client.get(f"{parts.path}?{parts.query}")


def _sign_in(client, provider, username: str, next_url: str = ""):
    return _back(client, provider.authorize(_start(client, next_url), username))


def _failure(response, status: int = 400) -> str:
    assert response.status_code == status
    assert "_auth_user_id" not in response.wsgi_request.session
    return response.content.decode()


def test_the_first_sign_in_makes_the_account_with_its_groups_mapped(client, idp):
    idp.person("olivia", groups=["staff-team", "unmapped"])
    authorization = _start(client, "/usage/")
    query = parse_qs(urlsplit(authorization).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]

    response = _back(client, idp.authorize(authorization, "olivia"))

    assert response.status_code == 302 and response["Location"] == "/usage/"
    olivia = get_user_model().objects.get(username="olivia")
    assert (olivia.email, olivia.first_name) == ("olivia@example.com", "Olivia")
    assert set(olivia.groups.values_list("name", flat=True)) == {"user", "staff"}
    assert olivia.is_staff and not olivia.has_usable_password()
    assert ExternalIdentity.objects.get(user=olivia).provider == "oidc"
    assert client.get("/usage/").status_code == 200
    assert AuditEntry.objects.filter(action="login.succeeded", actor_id=olivia.pk).exists()
    assert AuditEntry.objects.filter(action="user.created", actor_id=olivia.pk).exists()


def test_leaving_a_group_at_the_provider_takes_the_role_at_the_next_sign_in(client, idp):
    idp.person("pavel", groups=["admins"])
    _sign_in(client, idp, "pavel")
    assert client.get("/admin/").status_code == 200
    client.post("/accounts/logout/")

    idp.person("pavel", groups=[])
    _sign_in(client, idp, "pavel")

    pavel = get_user_model().objects.get(username="pavel")
    assert set(pavel.groups.values_list("name", flat=True)) == {"user"}
    assert client.get("/admin/").status_code == 302  # to the admin's login
    assert client.get("/usage/").status_code == 403


def test_a_group_mapped_in_the_admin_gives_collection_access(client, idp):
    readers = Group.objects.create(name="Handbook readers")
    DirectoryGroup.objects.create(name="HR").groups.set([readers])
    idp.person("hana", groups=["hr"])  # letter case does not matter
    _sign_in(client, idp, "hana")
    assert get_user_model().objects.get(username="hana").groups.filter(pk=readers.pk).exists()


def test_next_never_leads_off_the_site(client, idp):
    idp.person("nina")
    for unsafe in ["https://evil.example/", "//evil.example/x", "http://testserver.evil/"]:
        response = _sign_in(client, idp, "nina", unsafe)
        assert response.status_code == 302 and response["Location"] == "/", unsafe


@pytest.mark.parametrize(
    "fault", ["wrong-audience", "expired", "unsigned", "wrong-nonce", "tampered"]
)
def test_an_id_token_that_fails_validation_signs_nobody_in(client, idp, caplog, fault):
    idp.person(f"ivan-{fault}", groups=["staff-team"])
    with idp.misbehaving(fault), caplog.at_level(logging.WARNING, "assistant.accounts"):
        page = _failure(_sign_in(client, idp, f"ivan-{fault}"))

    assert "The answer from Test SSO could not be verified" in page
    assert 'href="/accounts/oidc/login"' in page  # the button, to try again
    assert "id_token_invalid" in caplog.text
    assert not get_user_model().objects.filter(username__startswith="ivan").exists()
    failed = AuditEntry.objects.get(action="login.failed")
    assert failed.changes == {"provider": "oidc", "reason": "id_token_invalid"}


def test_a_tampered_state_is_refused(client, idp):
    idp.person("tara")
    location = idp.authorize(_start(client), "tara")
    page = _failure(_back(client, location.replace("state=", "state=x")))
    assert "This sign-in was already used or has expired" in page
    assert not get_user_model().objects.filter(username="tara").exists()


def test_an_answer_counts_once_and_a_used_code_is_refused(client, idp):
    idp.person("rita")
    location = idp.authorize(_start(client), "rita")
    assert _back(client, location).status_code == 302
    client.post("/accounts/logout/")

    assert "already used" in _failure(_back(client, location))  # its state is gone
    # The code again, under a state of a new sign-in: the provider refuses it.
    new_state = parse_qs(urlsplit(_start(client)).query)["state"][0]
    code = parse_qs(urlsplit(location).query)["code"][0]
    page = _failure(_back(client, f"/accounts/oidc/callback?code={code}&state={new_state}"))
    assert "Test SSO refused to complete the sign-in" in page


def test_the_providers_refusal_is_shown_in_the_persons_language(client, idp, caplog):
    state = parse_qs(urlsplit(_start(client)).query)["state"][0]
    with caplog.at_level(logging.WARNING, "assistant.accounts"):
        response = client.get(
            "/accounts/oidc/callback",
            {"error": "access_denied", "error_description": "not allowed", "state": state},
            HTTP_ACCEPT_LANGUAGE="zh-hans",
        )
    assert "Test SSO 没有让您登录" in _failure(response)
    assert "provider_error" in caplog.text and "access_denied: not allowed" in caplog.text


def test_an_unreachable_provider_is_said_plainly(client, idp, settings, caplog):
    settings.OIDC_ISSUER = f"http://127.0.0.1:{free_port()}/o"
    with caplog.at_level(logging.WARNING, "assistant.accounts"):
        response = client.get("/accounts/oidc/login")
    assert "Test SSO cannot be reached just now" in _failure(response)
    assert "unreachable" in caplog.text and "ConnectionError" in caplog.text


def test_a_deactivated_person_is_refused_and_their_api_token_stops(client, idp):
    idp.person("dora")
    _sign_in(client, idp, "dora")
    dora = get_user_model().objects.get(username="dora")
    _row, token = tokens.create(dora, "cli")
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get("/api/v1/usage", **bearer).status_code == 200
    client.post("/accounts/logout/")

    dora.is_active = False
    dora.save()

    page = _failure(_sign_in(client, idp, "dora"), status=403)
    assert "Your account here is deactivated" in page
    assert client.get("/api/v1/usage", **bearer).status_code == 401


def test_the_login_page_offers_the_provider_and_keeps_passwords_for_the_first_admin(
    client, idp, settings
):
    page = client.get("/accounts/login/?next=/usage/").content.decode()
    assert "Sign in with Test SSO" in page
    assert 'href="/accounts/oidc/login?next=/usage/"' in page
    assert "<details" not in page

    settings.PASSWORD_LOGIN = "superusers"
    page = client.get("/accounts/login/").content.decode()
    assert "<details" in page and "Administrator sign-in with a password" in page

    admin_login = client.get("/admin/login/?next=/admin/").content.decode()
    assert 'href="/accounts/oidc/login?next=/admin/"' in admin_login
    assert 'id="id_password"' in admin_login


def test_a_group_claim_is_a_list_of_names_or_one_name():
    assert oidc.groups(["staff", 3, "", "hr"]) == ["staff", "hr"]
    assert oidc.groups("staff") == ["staff"]
    assert oidc.groups(None) == oidc.groups({"staff": True}) == []


def test_an_issuer_without_a_client_id_fails_at_start():
    env = os.environ | {"OIDC_ISSUER": "https://keycloak.example/realms/acme"}
    env.pop("OIDC_CLIENT_ID", None)
    started = subprocess.run(
        [sys.executable, "-c", "import assistant.settings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode != 0 and "set OIDC_CLIENT_ID too" in started.stderr


def test_without_a_provider_there_is_no_button_and_no_way_out(client, db):
    assert "Sign in with" not in client.get("/accounts/login/").content.decode()
    assert client.get("/accounts/oidc/login").status_code == 404


def test_signing_out_ends_the_providers_session_too(client, idp):
    idp.person("sam")
    _sign_in(client, idp, "sam")
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    end = urlsplit(response["Location"])
    assert f"{end.scheme}://{end.netloc}{end.path}" == f"{idp.issuer}/logout/"
    query = parse_qs(end.query)
    assert query["post_logout_redirect_uri"] == ["http://127.0.0.1/accounts/login/"]
    assert query["id_token_hint"] and query["client_id"] == [idp.client_id]
    assert "_auth_user_id" not in client.session


@pytest.fixture(scope="module")
def app_url(provider, django_db_setup, django_db_blocker):
    """The app under uvicorn on the test database, signing in at the provider."""
    with django_db_blocker.unblock():
        database_url = worker_database_url()
    env = os.environ | provider.env() | {"DATABASE_URL": database_url}
    env["DIRECTORY_GROUP_MAP"] = '{"staff-team": ["staff"]}'
    server, url = app_server.start(env)
    yield url
    server.terminate()
    server.wait(timeout=20)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_person_signs_in_with_the_provider_in_the_browser_and_out_again(provider, app_url):
    provider.person("bea", groups=["staff-team"])
    with chromium() as browser:
        page = browser.new_page()
        violations = watch_for_csp_violations(page)
        page.goto(f"{app_url}/usage/")
        page.click("#sign-in-with")
        page.fill("#provider-username", "bea")
        page.fill("#provider-password", PASSWORD)
        page.click("#provider-submit")
        page.wait_for_url(f"{app_url}/usage/")
        heading = page.locator("h1").first.inner_text()
        header = page.locator("header.topbar").inner_text()

        page.click("header.topbar form button")  # Log out bea
        page.wait_for_url(f"{app_url}/accounts/login/**")
        page.click("#sign-in-with")  # the provider asks for the password again
        page.wait_for_selector("#provider-password")
        asked_again = page.url.startswith(provider.url)

    assert violations == []  # the sign-out form may go on to the provider
    assert heading == "Usage and cost"
    assert "bea" in header
    assert asked_again
    assert get_user_model().objects.get(username="bea").groups.filter(name="staff").exists()
