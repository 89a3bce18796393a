"""Signing in with an LDAP directory or Active Directory, against a real slapd on loopback
(tests/support/slapd.py): the login page, the accounts it makes and the groups they get."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import ldap
import pytest
from django.contrib.auth.models import Group

from assistant.accounts import ldap as ldap_backend
from assistant.accounts import throttle
from assistant.accounts.models import DirectoryGroup, ExternalIdentity, Throttle
from assistant.audit.models import AuditEntry
from assistant.lib import ldap_settings
from assistant.lib.ports import free_port
from ingest.models import Collection
from tests.support import slapd

pytestmark = pytest.mark.django_db

PEOPLE = f"ou=people,{slapd.SUFFIX}"
GROUPS = f"ou=groups,{slapd.SUFFIX}"
CORP = f"ou=corp,{slapd.SUFFIX}"
UNREACHABLE_EN = "The company directory cannot be reached right now."
UNREACHABLE_ZH = "暂时无法连接公司目录"


@pytest.fixture(scope="module")
def directory_server(tmp_path_factory) -> Iterator[slapd.Slapd]:
    server = slapd.start(tmp_path_factory.mktemp("slapd"))
    yield server
    server.stop()


@pytest.fixture
def use_directory(settings, directory_server):
    """Turns LDAP sign-in on, as these LDAP_* settings would: service account, user search under
    ou=people, groupOfNames under ou=groups, unless `overrides` say otherwise."""

    def use(**overrides) -> None:
        values = {
            "server_uri": directory_server.uri,
            "bind_dn": slapd.READER_DN,
            "bind_password": slapd.READER_PASSWORD,
            "user_search_base": PEOPLE,
            "user_filter": "(uid=%(user)s)",
            "user_dn_template": "",
            "start_tls": False,
            "ca_file": "",
            "tls_verify": True,
            "group_search_base": GROUPS,
            "group_type": "groupOfNames",
            "attributes": {"first_name": "givenName", "last_name": "sn", "email": "mail"},
            "timeout_s": 5,
        } | overrides
        for name, value in ldap_settings.auth_ldap_settings(**values).items():
            setattr(settings, name, value)
        settings.AUTHENTICATION_BACKENDS = [
            *settings.AUTHENTICATION_BACKENDS,
            "assistant.accounts.ldap.LDAPBackend",
        ]

    return use


def _log_in(client, username: str, password: str, **headers):
    return client.post("/accounts/login/", {"username": username, "password": password}, **headers)


def _map(name: str, *groups: str) -> None:
    row = DirectoryGroup.objects.create(name=name)
    row.groups.set([Group.objects.get_or_create(name=group)[0] for group in groups])


def _names(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def _entry_uuid(server: slapd.Slapd, dn: str) -> str:
    [(_dn, attrs)] = server.admin().search_s(dn, ldap.SCOPE_BASE, attrlist=["entryUUID"])
    return attrs["entryUUID"][0].decode()


@pytest.mark.parametrize(
    ("group_type", "expected"),
    [
        ("groupOfNames", {"user", "staff", "Support readers"}),
        ("nestedGroupOfNames", {"user", "staff", "Support readers", "Helpdesk readers"}),
    ],
)
def test_a_person_signs_in_through_the_service_accounts_search_and_gets_their_groups(
    client, use_directory, directory_server, group_type, expected
):
    use_directory(group_type=group_type)
    _map(slapd.SUPPORT.upper(), "staff", "Support readers")  # DNs match in any letter case
    _map(slapd.HELPDESK, "Helpdesk readers")  # support is a member of helpdesk
    handbook = Collection.objects.create(name="Handbook")
    handbook.reader_groups.add(Group.objects.get(name="Support readers"))

    response = _log_in(client, "ann", "ann-secret")

    assert response.status_code == 302
    ann = response.wsgi_request.user
    assert (ann.username, ann.email, ann.get_full_name()) == ("ann", "ann@example.org", "Ann Lee")
    identity = ExternalIdentity.objects.get(user=ann)
    assert identity.provider == "ldap"
    assert identity.subject == _entry_uuid(directory_server, slapd.person_dn("ann"))
    assert _names(ann) == expected
    assert list(Collection.objects.readable_by(ann)) == [handbook]
    assert client.get("/account/").status_code == 200


def test_direct_bind_needs_no_service_account(client, use_directory, directory_server):
    use_directory(
        bind_dn="", bind_password="", user_search_base="", user_dn_template=f"uid=%(user)s,{PEOPLE}"
    )
    _map(slapd.SUPPORT, "staff")

    response = _log_in(client, "ann", "ann-secret")

    assert response.status_code == 302
    ann = response.wsgi_request.user
    assert ann.email == "ann@example.org" and _names(ann) == {"user", "staff"}
    subject = ExternalIdentity.objects.get(user=ann).subject
    assert subject == _entry_uuid(directory_server, slapd.person_dn("ann"))


def test_someone_removed_from_a_group_loses_its_access_at_the_next_sign_in(
    client, use_directory, directory_server
):
    use_directory()
    _map(slapd.SUPPORT, "staff")
    dan = _log_in(client, "dan", "dan-secret").wsgi_request.user
    assert _names(dan) == {"user", "staff"}
    member = [(ldap.MOD_DELETE, "member", [slapd.person_dn("dan").encode()])]
    directory_server.admin().modify_s(slapd.SUPPORT, member)
    try:
        client.logout()
        again = _log_in(client, "dan", "dan-secret").wsgi_request.user
    finally:
        directory_server.admin().modify_s(slapd.SUPPORT, [(ldap.MOD_ADD, *member[0][1:])])

    assert again.pk == dan.pk
    assert _names(again) == {"user"}
    again.refresh_from_db()
    assert not again.is_staff


def test_active_directory_nested_groups_and_object_guid(client, use_directory):
    use_directory(
        user_search_base=CORP,
        user_filter="(sAMAccountName=%(user)s)",
        group_search_base=CORP,
        group_type="nestedActiveDirectory",
    )
    _map(slapd.GG_HELPDESK, "staff")  # GG-Support, which Kim is in, is a member of GG-Helpdesk

    response = _log_in(client, "kim", "kim-secret")

    assert response.status_code == 302
    kim = response.wsgi_request.user
    assert (kim.email, kim.get_full_name()) == ("kim@corp.example.org", "Kim Wu")
    assert ExternalIdentity.objects.get(user=kim).subject == str(slapd.KIM_GUID)
    assert _names(kim) == {"user", "staff"}


def test_a_directory_user_never_gets_a_local_account_of_the_same_name(
    client, use_directory, django_user_model
):
    use_directory()
    local = django_user_model.objects.create_superuser("admin", password="local-admin-secret")

    response = _log_in(client, "admin", slapd.PASSWORDS["admin"])

    assert response.status_code == 302
    person = response.wsgi_request.user
    assert person.pk != local.pk
    assert (person.username, person.is_superuser, person.is_staff) == ("admin-2", False, False)
    client.logout()
    assert _log_in(client, "admin", "local-admin-secret").wsgi_request.user.pk == local.pk


def test_wrong_directory_passwords_count_against_the_login_throttle(client, use_directory):
    use_directory()
    for _ in range(5):  # LOGIN_ATTEMPTS_PER_ACCOUNT
        refused = _log_in(client, "ann", "wrong")
        assert refused.status_code == 200
        assert "correct username and password" in refused.content.decode()
    assert Throttle.objects.get(key=throttle.account_key("ann", "127.0.0.1")).hits == 5
    assert AuditEntry.objects.filter(action="login.locked", actor_name="ann").exists()

    locked = _log_in(client, "ann", "ann-secret")

    assert locked.status_code == 429
    assert not locked.wsgi_request.user.is_authenticated


@pytest.mark.parametrize(
    ("problem", "language", "message", "reason"),
    [
        ("server down", "zh-hans", UNREACHABLE_ZH, "SERVER_DOWN"),
        ("service password refused", "en", UNREACHABLE_EN, "INVALID_CREDENTIALS"),
    ],
)
def test_a_directory_that_fails_is_said_so_logged_and_not_counted_as_a_wrong_password(
    client, use_directory, caplog, django_user_model, problem, language, message, reason
):
    if problem == "server down":
        use_directory(server_uri=f"ldap://127.0.0.1:{free_port()}")
    else:
        use_directory(bind_password="not-the-readers")

    with caplog.at_level(logging.WARNING, logger="assistant.accounts"):
        response = _log_in(client, "ann", "ann-secret", HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert any(
        record.name.startswith("assistant.accounts") and reason in record.getMessage()
        for record in caplog.records
    )
    admin_login = client.post(
        "/admin/login/",
        {"username": "ann", "password": "ann-secret"},
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert admin_login.status_code == 200 and message in admin_login.content.decode()
    assert not Throttle.objects.exists()
    assert not django_user_model.objects.filter(username="ann").exists()


@pytest.mark.parametrize(
    ("how", "ca", "verify", "signed_in"),
    [
        ("ldaps", True, True, True),
        ("starttls", True, True, True),
        ("ldaps", False, True, False),  # our CA is not one the system trusts
        ("ldaps", False, False, True),  # LDAP_TLS_VERIFY=false: not checked
    ],
)
def test_tls_checks_the_servers_certificate(
    client, use_directory, directory_server, how, ca, verify, signed_in
):
    use_directory(
        server_uri=directory_server.ldaps_uri if how == "ldaps" else directory_server.uri,
        start_tls=how == "starttls",
        ca_file=directory_server.ca_file if ca else "",
        tls_verify=verify,
    )

    response = _log_in(client, "ann", "ann-secret")

    assert (response.status_code == 302) is signed_in
    assert (UNREACHABLE_EN in response.content.decode()) is not signed_in


def test_a_deactivated_account_is_refused_and_its_session_ends(client, use_directory):
    use_directory()
    ann = _log_in(client, "ann", "ann-secret").wsgi_request.user
    ann.is_active = False
    ann.save()

    assert client.get("/account/").status_code == 302

    refused = _log_in(client, "ann", "ann-secret")
    assert refused.status_code == 200
    assert "Your account here is deactivated" in refused.content.decode()


def test_the_subject_is_the_entrys_stable_id_else_its_dn():
    guid = slapd.KIM_GUID.bytes_le
    assert ldap_backend.subject("cn=kim", {"objectGUID": [guid]}) == str(slapd.KIM_GUID)
    ascii_guid = bytes(range(16))  # valid UTF-8: django-auth-ldap hands it over as text
    assert ldap_backend.subject("cn=x", {"objectGUID": [ascii_guid.decode()]}) == str(
        uuid.UUID(bytes_le=ascii_guid)
    )
    assert ldap_backend.subject("uid=ann", {"entryUUID": ["C995-AB"]}) == "c995-ab"
    assert ldap_backend.subject("UID=Ann,OU=People", {}) == "uid=ann,ou=people"
