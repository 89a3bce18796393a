"""Roles, logging in with its rate limit, the account page's tokens, and the usage dashboard."""

from __future__ import annotations

import csv
import hashlib
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from assistant.accounts import roles
from assistant.accounts.models import ApiToken, Throttle
from assistant.chat.models import Conversation, Feedback, Message
from assistant.llm.models import LlmCall
from ingest import pipeline
from ingest.models import Collection

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann(django_user_model):
    return django_user_model.objects.create_user("ann", password="pw-ann-123456")


def test_three_roles_exist_and_new_accounts_are_users(ann):
    assert set(Group.objects.values_list("name", flat=True)) >= {"admin", "staff", "user"}
    assert list(ann.groups.values_list("name", flat=True)) == ["user"]
    admin = Group.objects.get(name=roles.ADMIN)
    assert admin.permissions.filter(codename="add_document").exists()
    assert admin.permissions.filter(codename="change_quotaoverride").exists()
    assert not Group.objects.get(name=roles.USER).permissions.exists()


def test_joining_staff_opens_the_admin_site_and_the_dashboard(client, ann):
    client.force_login(ann)
    assert client.get("/usage/").status_code == 403
    assert not ann.is_staff

    ann.groups.add(Group.objects.get(name=roles.STAFF))
    ann.refresh_from_db()
    assert ann.is_staff
    assert client.get("/usage/").status_code == 200

    ann.groups.remove(Group.objects.get(name=roles.STAFF))
    ann.refresh_from_db()
    assert not ann.is_staff


def test_support_staff_download_the_original_file_and_users_may_not(client, ann):
    original = b"# Backups\n\nRun pg_dump nightly.\n"
    guide = Collection.objects.create(name="Guide", is_public=True)
    document = pipeline.submit(collection=guide, source_path="ops/backups.md", data=original)
    url = f"/documents/{document.document.pk}/file"
    client.force_login(ann)
    assert client.get(url).status_code == 404, "a user reads the passages, not the file"

    ann.groups.add(Group.objects.get(name=roles.STAFF))
    response = client.get(url)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == original
    assert response["Content-Disposition"] == 'attachment; filename="backups.md"'
    hidden = pipeline.submit(
        collection=Collection.objects.create(name="HR"), source_path="pay.md", data=b"# Pay"
    )
    assert client.get(f"/documents/{hidden.document.pk}/file").status_code == 404, (
        "staff download only from collections they may read"
    )


def test_wrong_passwords_lock_the_account_for_a_while_with_a_plain_message(client, ann, settings):
    settings.LOGIN_ATTEMPTS_PER_ACCOUNT = 3
    for _ in range(3):
        wrong = client.post("/accounts/login/", {"username": "ann", "password": "nope"})
        assert wrong.status_code == 200

    locked = client.post("/accounts/login/", {"username": "ann", "password": "pw-ann-123456"})
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode()
    assert 0 < int(locked["Retry-After"]) <= settings.LOGIN_WINDOW_S
    assert "_auth_user_id" not in client.session


def test_too_many_tries_from_one_address_are_refused_whatever_the_account(
    client, ann, django_user_model, settings
):
    settings.LOGIN_ATTEMPTS_PER_ADDRESS = 4
    django_user_model.objects.create_user("bob", password="pw-bob-123456")
    for name in ["x1", "x2", "x3", "x4"]:
        client.post("/accounts/login/", {"username": name, "password": "nope"})

    refused = client.post("/accounts/login/", {"username": "bob", "password": "pw-bob-123456"})
    assert refused.status_code == 429


def test_a_good_login_clears_the_account_count(client, ann, settings):
    settings.LOGIN_ATTEMPTS_PER_ACCOUNT = 3
    client.post("/accounts/login/", {"username": "ann", "password": "nope"})
    client.post("/accounts/login/", {"username": "ann", "password": "nope"})
    good = client.post("/accounts/login/", {"username": "ann", "password": "pw-ann-123456"})
    assert good.status_code == 302
    client.logout()
    client.post("/accounts/login/", {"username": "ann", "password": "nope"})
    assert client.post(
        "/accounts/login/", {"username": "ann", "password": "pw-ann-123456"}
    ).status_code == (302)


def test_a_new_token_is_shown_once_and_stored_hashed(client, ann):
    client.force_login(ann)
    created = client.post("/account/tokens", {"name": "helpdesk bot"})
    page = created.content.decode()
    token = page.split('id="new-token">')[1].split("<")[0]
    row = ApiToken.objects.get(user=ann)
    assert row.name == "helpdesk bot" and row.digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in row.prefix + row.digest
    assert created["Cache-Control"] == "no-store"

    again = client.get("/account/").content.decode()
    assert token not in again and row.prefix in again


def test_nobody_revokes_another_users_token(client, ann, django_user_model):
    bob = django_user_model.objects.create_user("bob", password="pw-bob-123456")
    client.force_login(bob)
    client.post("/account/tokens", {"name": "bob's"})
    client.force_login(ann)
    client.post(f"/account/tokens/{ApiToken.objects.get().pk}/revoke")
    assert ApiToken.objects.get().revoked_at is None


def test_the_dashboard_shows_calls_with_their_cost_and_exports_csv(admin_client, ann):
    conversation = Conversation.objects.create(owner=ann)
    answer = Message.objects.create(
        conversation=conversation, role="assistant", status="succeeded", first_token_ms=420
    )
    gap = Message.objects.create(
        conversation=conversation,
        role="assistant",
        status="succeeded",
        content_gap=True,
        standalone_question="How do I fly to the moon?",
    )
    Feedback.objects.create(message=answer, user=ann, helpful=False, comment="Wrong version")
    LlmCall.objects.create(
        user=ann,
        message=answer,
        provider="qwen",
        model="qwen-plus",
        prompt_tokens=1200,
        completion_tokens=300,
        cost_usd=Decimal("0.00084"),
        first_token_ms=420,
    )
    LlmCall.objects.create(
        user=ann, message=gap, provider="qwen", model="qwen-max", outcome="error", fallback=True
    )

    page = admin_client.get("/usage/").content.decode()
    for expected in [
        "$0.000840",
        "1,500",
        "qwen/qwen-plus",
        "Wrong version",
        "How do I fly to the moon?",
        "Questions per day",
        "<svg",
        "50.0%",  # one of two answer calls failed
    ]:
        assert expected in page, expected

    exported = admin_client.get("/usage/export.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert [r["model"] for r in rows] == ["qwen-plus", "qwen-max"]
    assert rows[0]["cost_usd"] == "0.000840" and rows[0]["user__username"] == "ann"


def test_quotas_are_set_on_the_users_and_groups_admin_pages(admin_client, ann):
    for url in [
        f"/admin/auth/user/{ann.pk}/change/",
        f"/admin/auth/group/{Group.objects.get(name='user').pk}/change/",
    ]:
        page = admin_client.get(url).content.decode()
        assert "quota override" in page.lower(), url
        assert 'name="quotaoverride-0-questions_per_day"' in page, url


@pytest.mark.parametrize(
    ("name", "says"),
    [("x" * 10_000, "at most 100 characters"), ("bot\x00", "Null characters are not allowed")],
)
def test_a_bad_token_name_is_refused_with_a_message_and_no_token(client, ann, name, says):
    client.force_login(ann)

    response = client.post("/account/tokens", {"name": name})

    assert response.status_code == 400
    assert says in response.content.decode()
    assert not ann.api_tokens.exists()


@pytest.fixture
def staff(django_user_model):
    sam = django_user_model.objects.create_user("sam", password="pw-sam-123456")
    sam.groups.add(Group.objects.get(name=roles.STAFF))  # which makes sam staff
    return sam


def test_the_admin_login_shares_the_throttle_with_the_site_login(client, staff, settings):
    settings.LOGIN_ATTEMPTS_PER_ACCOUNT = 5
    for door in ["/accounts/login/", "/admin/login/"] * 2 + ["/admin/login/"]:
        client.post(door, {"username": "sam", "password": "wrong"})

    locked = client.post("/admin/login/", {"username": "sam", "password": "pw-sam-123456"})

    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode()
    assert Throttle.objects.filter(key__startswith="login:account:sam:").exists()
    assert "_auth_user_id" not in client.session


def test_the_admin_login_logs_a_staff_member_in(client, staff):
    response = client.post("/admin/login/", {"username": "sam", "password": "pw-sam-123456"})

    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_lock_holds_for_one_address_only(client, ann, settings):
    settings.LOGIN_ATTEMPTS_PER_ACCOUNT = 3
    for _ in range(3):
        client.post(
            "/accounts/login/", {"username": "ann", "password": "no"}, REMOTE_ADDR="1.1.1.1"
        )

    elsewhere = client.post(
        "/accounts/login/", {"username": "ann", "password": "pw-ann-123456"}, REMOTE_ADDR="2.2.2.2"
    )

    assert elsewhere.status_code == 302, "someone else's wrong passwords do not lock ann out"


def test_a_new_password_lifts_the_lock(client, ann, settings):
    settings.LOGIN_ATTEMPTS_PER_ACCOUNT = 3
    for _ in range(3):
        client.post("/accounts/login/", {"username": "ann", "password": "no"})
    assert client.post("/accounts/login/", {"username": "ann", "password": "x"}).status_code == 429

    ann.set_password("a-new-pw-654321")  # as the admin's "change password" form does
    ann.save()

    again = client.post("/accounts/login/", {"username": "ann", "password": "a-new-pw-654321"})
    assert again.status_code == 302


def test_the_password_reset_form_is_throttled_per_address(client, ann, settings):
    settings.LOGIN_ATTEMPTS_PER_ADDRESS = 3
    answers = [
        client.post("/accounts/password_reset/", {"email": "ann@example.com"}).status_code
        for _ in range(4)
    ]

    assert answers == [302, 302, 302, 429]


@pytest.mark.parametrize("spelling", ["ｖｉｃｔｉｍ", "VICTIM", " Victim ", "ｖictim"])
def test_every_spelling_of_a_name_counts_against_one_lock(
    client, django_user_model, settings, spelling
):
    django_user_model.objects.create_user("victim", password="pw-victim-123456")
    settings.LOGIN_ATTEMPTS_PER_ACCOUNT = 5
    for _ in range(5):
        client.post("/accounts/login/", {"username": "victim", "password": "wrong"})

    locked = client.post("/accounts/login/", {"username": spelling, "password": "pw-victim-123456"})

    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_spelling_variants_give_no_more_guesses_than_the_name(client, django_user_model, settings):
    django_user_model.objects.create_user("victim", password="pw-victim-123456")
    settings.LOGIN_ATTEMPTS_PER_ACCOUNT = 5
    spellings = ["victim", "VICTIM", "ｖｉｃｔｉｍ", "Victim", "vIcTiM", "ＶＩＣＴＩＭ"]
    answers = [
        client.post("/accounts/login/", {"username": name, "password": "wrong"}).status_code
        for name in spellings
    ]

    assert answers == [200] * 5 + [429]


def test_wrong_old_passwords_lock_the_password_change_form(client, ann, settings):
    settings.LOGIN_ATTEMPTS_PER_ACCOUNT = 3
    client.force_login(ann)

    def change(old: str):
        return client.post(
            "/accounts/password_change/",
            {
                "old_password": old,
                "new_password1": "Fresh-pw-98765",
                "new_password2": "Fresh-pw-98765",
            },
        )

    wrong = [change("guess").status_code for _ in range(3)]
    right = change("pw-ann-123456")

    assert wrong == [200, 200, 200]
    assert right.status_code == 429
    assert "Too many failed attempts" in right.content.decode()
    ann.refresh_from_db()
    assert ann.check_password("pw-ann-123456"), "the password did not change"


def test_the_token_command_refuses_a_name_too_long_with_a_plain_error(ann):
    with pytest.raises(CommandError, match="--name: Ensure this value has at most 100 characters"):
        call_command("create_api_token", "ann", name="n" * 101, stdout=io.StringIO())

    assert not ApiToken.objects.filter(user=ann).exists()
