"""The audit log: one entry per audited action, append-only, read in the admin and the API."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from assistant.accounts.models import ApiToken, QuotaOverride
from assistant.audit import log
from assistant.audit.models import AppendOnly, AuditEntry
from ingest.models import Collection, Document
from tests.assistant.monitoring.admin_forms import form_values
from tests.support.documents import ingest_text

Action = AuditEntry.Action


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_superuser("root", password="pw-root-123456")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password="pw-bob-123456")


def token_for(username: str) -> str:
    out = StringIO()
    call_command("create_api_token", username, stdout=out)
    return out.getvalue().strip()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def only(action: str) -> AuditEntry:
    [entry] = AuditEntry.objects.filter(action=action)
    return entry


def resave(client, url: str, **changes):
    """Post an admin change page back with `changes` on top of what it shows."""
    data = form_values(client.get(url).content.decode()) | changes
    response = client.post(url, data)
    errors = re.findall(r"errorlist[^>]*>(.*?)</ul>", response.content.decode(), re.S)
    assert response.status_code == 302, errors


def test_a_sign_in_and_a_failed_one_are_entries_with_who_and_where(client, bob):
    client.post("/accounts/login/", {"username": "bob", "password": "wrong"})
    client.post("/accounts/login/", {"username": "bob", "password": "pw-bob-123456"})

    failed, succeeded = only(Action.LOGIN_FAILED), only(Action.LOGIN_SUCCEEDED)
    assert failed.actor_name == "bob" and failed.actor_id is None
    assert failed.address == "127.0.0.1" and len(failed.request_id) == 32
    assert succeeded.actor_id == bob.pk and succeeded.actor_name == "bob"
    assert succeeded.request_id != failed.request_id


def test_the_failure_that_locks_an_account_is_one_lockout_entry(client, bob, settings):
    settings.LOGIN_ATTEMPTS_PER_ACCOUNT = 2
    for _ in range(2):
        client.post("/admin/login/", {"username": "bob", "password": "wrong"})

    assert AuditEntry.objects.filter(action=Action.LOGIN_FAILED).count() == 2
    locked = only(Action.LOGIN_LOCKED)
    assert locked.actor_name == "bob" and "login:account:bob" in locked.changes["key"]


def test_a_token_created_and_revoked_on_the_account_page(client, bob):
    client.force_login(bob)
    client.post("/account/tokens", {"name": "laptop"})
    token = ApiToken.objects.get(user=bob)
    client.post(f"/account/tokens/{token.pk}/revoke")

    created, revoked = only(Action.TOKEN_CREATED), only(Action.TOKEN_REVOKED)
    assert created.actor_id == bob.pk and created.object_id == str(token.pk)
    assert created.changes == {"owner": "bob"}
    assert revoked.actor_id == bob.pk and revoked.object_type == "assistant.apitoken"


def test_a_role_change_in_the_admin_names_the_groups_before_and_after(client, root, bob):
    client.force_login(root)

    resave(
        client, f"/admin/auth/user/{bob.pk}/change/", groups=[Group.objects.get(name="staff").pk]
    )

    entry = only(Action.USER_CHANGED)
    assert entry.actor_id == root.pk and entry.object_repr == "bob"
    assert entry.changes["groups"] == [["user"], ["staff"]]
    assert "password" not in entry.changes


def test_a_new_user_is_an_entry_without_the_password(client, root):
    client.force_login(root)
    page = client.get("/admin/auth/user/add/").content.decode()
    data = form_values(page) | {
        "username": "carol",
        "password1": "pw-carol-98765!x",
        "password2": "pw-carol-98765!x",
        "usable_password": "true",
    }
    assert client.post("/admin/auth/user/add/", data).status_code == 302

    entry = only(Action.USER_CREATED)
    assert entry.object_repr == "carol" and entry.changes["username"] == [None, "carol"]
    assert not {"password1", "password2"} & entry.changes.keys()


def test_a_group_change_is_an_entry(client, root):
    client.force_login(root)
    group = Group.objects.create(name="sales")

    resave(client, f"/admin/auth/group/{group.pk}/change/", name="sales-emea")

    assert only(Action.GROUP_CHANGED).changes["name"] == ["sales", "sales-emea"]


def test_a_quota_override_through_its_own_page_and_a_users_inline(client, root, bob):
    client.force_login(root)
    page = client.get("/admin/assistant/quotaoverride/add/").content.decode()
    data = form_values(page) | {"user": str(bob.pk), "questions_per_day": "7"}
    assert client.post("/admin/assistant/quotaoverride/add/", data).status_code == 302
    override = QuotaOverride.objects.get()

    resave(client, f"/admin/auth/user/{bob.pk}/change/", **_inline(client, bob, "9"))

    assert only(Action.QUOTA_CREATED).changes["questions_per_day"] == [None, 7]
    changed = only(Action.QUOTA_CHANGED)
    assert changed.object_id == str(override.pk) and changed.changes["questions_per_day"] == [7, 9]
    assert not AuditEntry.objects.filter(action=Action.USER_CHANGED).exists()


def _inline(client, user, questions: str) -> dict:
    values = form_values(client.get(f"/admin/auth/user/{user.pk}/change/").content.decode())
    [field] = [name for name in values if name.endswith("-0-questions_per_day")]
    return {field: questions}


def test_who_may_read_a_collection_is_an_entry_with_before_and_after(client, root, bob):
    client.force_login(root)
    collection = Collection.objects.create(name="HR")

    resave(client, f"/admin/ingest/collection/{collection.pk}/change/", reader_users=[bob.pk])

    entry = only(Action.COLLECTION_CHANGED)
    assert entry.object_repr == "HR" and entry.changes == {"reader_users": [[], ["bob"]]}


def test_a_document_uploaded_downloaded_and_deleted(client, root, settings):
    collection = Collection.objects.create(name="Guide", is_public=True)
    token = token_for("root")

    response = client.post(
        f"/api/v1/collections/{collection.pk}/documents",
        {"files": SimpleUploadedFile("notes.md", b"# Notes\n\nOpen at nine.\n")},
        headers=bearer(token),
    )
    document = Document.objects.get()
    client.force_login(root)
    client.get(f"/documents/{document.pk}/file")
    client.logout()
    client.delete(f"/api/v1/documents/{document.pk}", headers=bearer(token))

    uploaded = only(Action.DOCUMENT_UPLOADED)
    assert uploaded.actor_id == root.pk and uploaded.request_id == response["X-Request-ID"]
    assert uploaded.changes == {"file": "notes.md", "duplicate": False}
    assert only(Action.DOCUMENT_DOWNLOADED).object_id == str(document.pk)
    deleted = only(Action.DOCUMENT_DELETED)
    assert deleted.object_id == str(document.pk) and deleted.object_repr == uploaded.object_repr
    assert deleted.actor_id == root.pk


def test_a_document_deleted_in_the_admin(client, root):
    document = ingest_text(Collection.objects.create(name="Guide"), "a.md", "# A\n\nText.\n")
    client.force_login(root)

    client.post(f"/admin/ingest/document/{document.pk}/delete/", {"post": "yes"})

    assert only(Action.DOCUMENT_DELETED).object_id == str(document.pk)


def test_a_source_created_and_synced_over_the_api(client, root, tmp_path):
    collection = Collection.objects.create(name="Share")
    token = token_for("root")

    created = client.post(
        "/api/v1/sources",
        {"kind": "folder", "collection_id": collection.pk, "path": str(tmp_path)},
        content_type="application/json",
        headers=bearer(token),
    ).json()
    client.post(f"/api/v1/sources/{created['id']}/sync", headers=bearer(token))

    assert only(Action.SOURCE_CREATED).changes == {"location": str(tmp_path)}
    assert only(Action.SOURCE_SYNCED).object_id == str(created["id"])


def test_a_usage_export_is_an_entry(client, root):
    client.force_login(root)

    client.get("/usage/export.csv")

    assert only(Action.USAGE_EXPORTED).actor_id == root.pk


def test_the_admin_shows_entries_but_nobody_changes_or_deletes_them(client, root):
    entry = log.record(Action.LOGIN_FAILED, actor_name="mallory")
    client.force_login(root)
    base = "/admin/assistant/auditentry"

    listing = client.get(f"{base}/?action__exact=login.failed")
    view = client.get(f"{base}/{entry.pk}/change/")
    edit = client.post(f"{base}/{entry.pk}/change/", {"actor_name": "nobody"})
    delete = client.post(f"{base}/{entry.pk}/delete/", {"post": "yes"})
    bulk = client.post(f"{base}/", {"action": "delete_selected", "_selected_action": [entry.pk]})

    assert listing.status_code == 200 and "mallory" in listing.content.decode()
    assert view.status_code == 200 and "Save" not in view.content.decode()
    assert edit.status_code == 403 and delete.status_code == 403
    assert bulk.status_code == 302  # no such action: back to the list, nothing done
    assert AuditEntry.objects.get(pk=entry.pk).actor_name == "mallory"


def test_the_admin_exports_the_selected_entries_as_csv(client, root):
    entry = log.record(Action.LOGIN_FAILED, actor_name="mallory")
    client.force_login(root)

    response = client.post(
        "/admin/assistant/auditentry/",
        {"action": "export_csv", "_selected_action": [entry.pk]},
    )

    lines = response.content.decode().splitlines()
    assert response["Content-Type"].startswith("text/csv")
    assert lines[0].startswith("at,actor_id,actor_name") and ",mallory," in lines[1]
    assert only(Action.AUDIT_EXPORTED).changes == {"entries": 1}


def test_entries_refuse_changes_and_deletes_in_code_and_in_the_database(db):
    entry = log.record(Action.LOGIN_FAILED, actor_name="mallory")

    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    with pytest.raises(AppendOnly):
        AuditEntry.objects.all().update(actor_name="x")
    with pytest.raises(AppendOnly):
        AuditEntry.objects.all().delete()
    for statement in [
        "UPDATE assistant_auditentry SET actor_name = 'x'",
        "DELETE FROM assistant_auditentry",
    ]:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            connection.cursor().execute(statement)
    assert AuditEntry.objects.get().actor_name == "mallory"


def test_retention_prunes_only_entries_older_than_the_setting(db):
    old = log.record(Action.LOGIN_FAILED, actor_name="old")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE assistant_auditentry DISABLE TRIGGER USER")
        cursor.execute(
            "UPDATE assistant_auditentry SET at = %s WHERE id = %s",
            [timezone.now() - timedelta(days=40), old.pk],
        )
        cursor.execute("ALTER TABLE assistant_auditentry ENABLE TRIGGER USER")
    log.record(Action.LOGIN_FAILED, actor_name="new")

    assert log.prune(0) == 0
    assert log.prune(30) == 1
    assert list(AuditEntry.objects.values_list("actor_name", flat=True)) == ["new"]


def test_the_api_filters_by_since_actor_and_action_for_admins_only(client, root, bob):
    log.record(Action.LOGIN_FAILED, actor_name="mallory")
    log.record(Action.LOGIN_SUCCEEDED, actor=bob)
    admin_token, bob_token = token_for("root"), token_for("bob")

    def get(query, token=admin_token):
        return client.get(f"/api/v1/audit?{query}", headers=bearer(token))

    refused = get("", bob_token)
    by_actor = get("actor=bob").json()
    by_id = get(f"actor={bob.pk}").json()
    by_action = get("action=login.failed").json()
    later = get(f"since={(timezone.now() + timedelta(minutes=1)).isoformat()}".replace("+", "%2B"))

    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert [e["action"] for e in by_actor] == ["login.succeeded"] and by_actor == by_id
    assert [e["actor_name"] for e in by_action] == ["mallory"]
    assert later.json() == []
    assert get("action=nonsense").status_code == 422
