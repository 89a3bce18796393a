"""Accounts of people an identity provider vouches for: made at first sign-in, updated at every
one, their directory groups mapped to roles and collection readers; passwords off for them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import DataError

from assistant.accounts import directory, tokens
from assistant.accounts.models import DirectoryGroup, ExternalIdentity
from assistant.audit.models import AuditEntry
from ingest.models import Collection

pytestmark = pytest.mark.django_db


def _sign_in(groups=(), **overrides):
    person = {
        "provider": "keycloak",
        "subject": "3f2a-ann",
        "username": "ann",
        "email": "ann@example.com",
        "first_name": "Ann",
        "last_name": "Lee",
        "groups": groups,
    } | overrides
    return directory.sign_in(**person)


def _map(name: str, *groups: str) -> DirectoryGroup:
    row = DirectoryGroup.objects.create(name=name)
    row.groups.set([Group.objects.get_or_create(name=group)[0] for group in groups])
    return row


def _names(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_it_makes_the_account_at_first_sign_in_and_updates_it_at_the_next():
    ann = _sign_in()
    assert (ann.username, ann.email, ann.get_full_name()) == ("ann", "ann@example.com", "Ann Lee")
    assert not ann.has_usable_password()
    assert _names(ann) == {"user"}
    assert AuditEntry.objects.filter(action="user.created", object_id=str(ann.pk)).exists()

    again = _sign_in(email="ann.lee@example.com", last_name="Lee-Wong")
    assert again.pk == ann.pk
    assert (again.email, again.last_name) == ("ann.lee@example.com", "Lee-Wong")
    assert ExternalIdentity.objects.get(user=ann).subject == "3f2a-ann"


def test_it_never_signs_someone_into_a_local_account_of_the_same_name(django_user_model):
    local = django_user_model.objects.create_superuser("ann", password="local-secret-123")
    ann = _sign_in()
    assert ann.pk != local.pk
    assert ann.username == "ann-2"
    assert not ann.is_superuser


def test_mapped_groups_give_roles_and_collection_readers():
    _map("Support", "staff", "Support readers")
    handbook = Collection.objects.create(name="Handbook")
    handbook.reader_groups.add(Group.objects.get(name="Support readers"))

    ann = _sign_in(groups=["support"])  # letter case does not matter

    assert _names(ann) == {"user", "staff", "Support readers"}
    ann.refresh_from_db()
    assert ann.is_staff
    assert list(Collection.objects.readable_by(ann)) == [handbook]


def test_leaving_a_directory_group_takes_its_access_at_the_next_sign_in():
    _map("support", "staff", "Support readers")
    ann = _sign_in(groups=["support"])
    hand_given = Group.objects.create(name="Beta testers")
    ann.groups.add(hand_given)

    ann = _sign_in(groups=[])

    assert _names(ann) == {"user", "Beta testers"}, "groups no mapping names stay"
    ann.refresh_from_db()
    assert not ann.is_staff


def test_the_settings_map_groups_too_and_claims_grant_only_what_a_mapping_says(settings):
    settings.DIRECTORY_GROUP_MAP = {"cn=admins,ou=groups,dc=example,dc=org": ["admin"]}
    ann = _sign_in(groups=["CN=Admins,OU=Groups,DC=example,DC=org", "admin", "superuser"])
    assert _names(ann) == {"user", "admin"}
    assert not ann.is_superuser

    bob = _sign_in(subject="bob", username="bob", groups=["admin", "staff"])
    assert _names(bob) == {"user"}, "a claim named like a role grants nothing unmapped"


def test_a_deactivated_account_is_refused_and_its_tokens_stop():
    ann = _sign_in()
    _row, token = tokens.create(ann, "cli")
    assert tokens.user_for(token) == ann

    ann.is_active = False
    ann.save()

    with pytest.raises(directory.SignInRefused):
        _sign_in()
    assert tokens.user_for(token) is None


def test_a_failed_sign_in_leaves_no_half_made_account(django_user_model, settings):
    settings.DIRECTORY_GROUP_MAP = {"ops": ["x" * 200]}  # too long a name for a group here
    with pytest.raises(DataError):
        _sign_in(groups=["ops"])
    assert not django_user_model.objects.filter(username="ann").exists()
    assert not ExternalIdentity.objects.exists()


def test_a_deactivated_persons_session_ends_at_their_next_request(client):
    ann = _sign_in()
    client.force_login(ann, backend="assistant.accounts.backends.DirectoryBackend")
    assert client.get("/account/").status_code == 200

    ann.is_active = False
    ann.save()

    assert client.get("/account/").status_code == 302


def test_with_passwords_for_superusers_only_a_user_cannot_log_in_with_one(
    client, django_user_model, settings
):
    settings.PASSWORD_LOGIN = "superusers"
    django_user_model.objects.create_user("carl", password="pw-carl-123456")
    django_user_model.objects.create_superuser("root", password="pw-root-123456")

    refused = client.post("/accounts/login/", {"username": "carl", "password": "pw-carl-123456"})
    assert refused.status_code == 200 and not refused.wsgi_request.user.is_authenticated

    admitted = client.post("/accounts/login/", {"username": "root", "password": "pw-root-123456"})
    assert admitted.status_code == 302


def test_the_mapping_is_kept_in_the_admin(admin_client):
    staff = Group.objects.get(name="staff")
    response = admin_client.post(
        "/admin/assistant/directorygroup/add/", {"name": "Support", "groups": [staff.pk]}
    )
    assert response.status_code == 302
    assert list(DirectoryGroup.objects.get(name="Support").groups.all()) == [staff]
    assert AuditEntry.objects.filter(action="directory_group.created").exists()
