"""Sources from the command line, the JSON API and the admin: only admins add and sync them."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse

from assistant.accounts import roles
from ingest.models import Collection, Document, Source
from tests.ingest.sources.conftest import sync_and_ingest
from tests.support.broker import queued_tasks
from tests.support.site import Page

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]


def run(*args) -> str:
    out = StringIO()
    call_command("sources", *args, stdout=out)
    return out.getvalue()


def small_site(site) -> None:
    site.html("/docs/", "Home", "The heron home page.", ["a.html"])
    site.html("/docs/a.html", "A", "The ibis page.")


def test_the_command_line_adds_syncs_and_lists_sources(site, tmp_path, settings):
    settings.INGEST_PROCESSES = 1  # forked children cannot share the test's transaction
    small_site(site)
    (tmp_path / "note.md").write_text("# Note\n\nThe crane note.")

    added = run(
        "add",
        "website",
        f"{site.url}/docs/",
        "--collection",
        "Help",
        "--max-pages",
        "50",
        "--every",
        "12h",
    )
    run("add", "folder", str(tmp_path), "--collection", "Help", "--every", "1h")
    website = Source.objects.get(kind="website")
    website.delay_s = 0
    website.save()
    synced = run("sync", website.name, "--wait")
    listed = run("list")

    assert "every 12h" in added
    assert (website.max_pages, website.collection.name) == (50, "Help")
    assert "2/2 documents" in synced
    assert "added 2, changed 0, unchanged 0, removed 0, failed 0" in synced
    assert website.name == site.url.removeprefix("http://")
    assert f"{website.name} [website] {site.url}/docs/ -> Help; every 12h; last sync" in listed
    assert f"[folder] {tmp_path} -> Help; every 1h; never synced" in listed


def test_the_api_creates_syncs_and_reads_a_source_for_admins_only(
    admin_client, client, django_user_model, site, settings, django_capture_on_commit_callbacks
):
    small_site(site)
    collection = Collection.objects.create(name="Help")
    staff = django_user_model.objects.create_user("support", password="pw-support-123")
    staff.groups.add(Group.objects.get(name=roles.STAFF))
    client.force_login(staff)
    payload = {"kind": "website", "collection_id": collection.pk, "url": f"{site.url}/docs/"}

    refused = client.post("/api/v1/sources", payload, content_type="application/json")
    with django_capture_on_commit_callbacks(execute=True):
        created = admin_client.post("/api/v1/sources", payload, content_type="application/json")
    source = Source.objects.get()
    never = admin_client.get(f"/api/v1/sources/{source.pk}/sync")
    source.delay_s = 0
    source.save()
    sync_and_ingest(source)
    with django_capture_on_commit_callbacks(execute=True):
        queued = admin_client.post(f"/api/v1/sources/{source.pk}/sync")
    last = admin_client.get(f"/api/v1/sources/{source.pk}/sync").json()
    listed = admin_client.get("/api/v1/sources").json()

    assert refused.status_code == 403
    assert created.status_code == 201 and created.json()["every"] == "1d"
    assert never.status_code == 404
    assert queued.status_code == 202
    assert [name for name, _ in queued_tasks(settings)][-2:] == [
        "ingest.tasks.sync_source",
        "ingest.tasks.sync_source",
    ]
    assert (last["status"], last["added"], last["failures"]) == ("succeeded", 2, [])
    assert listed[0]["last_sync"]["added"] == 2
    assert client.get("/api/v1/sources").status_code == 403


def test_the_admin_shows_the_last_sync_and_syncs_now_for_admins_only(
    admin_client,
    client,
    django_user_model,
    site,
    collection,
    settings,
    django_capture_on_commit_callbacks,
):
    small_site(site)
    source = Source.objects.create(
        name="Docs",
        kind="website",
        collection=collection,
        start_urls=[f"{site.url}/docs/"],
        delay_s=0,
    )
    sync_and_ingest(source)
    staff = django_user_model.objects.create_user("support", password="pw-support-123")
    staff.groups.add(Group.objects.get(name=roles.STAFF))
    client.force_login(staff)

    page = admin_client.get("/admin/ingest/source/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        synced = admin_client.post(f"/admin/ingest/source/{source.pk}/sync/")
    change = admin_client.get(f"/admin/ingest/source/{source.pk}/change/").content.decode()

    assert "2 / 2 / 0 / 0 / 0 / 0" in page
    assert synced.status_code == 302
    assert queued_tasks(settings)[-1] == ("ingest.tasks.sync_source", [source.pk])
    assert "Sync now" in change
    assert client.get("/admin/ingest/source/").status_code == 403
    assert client.post(f"/admin/ingest/source/{source.pk}/sync/").status_code == 403


def test_readers_see_the_live_page_and_its_freshness_and_the_dashboard_lists_failing_sources(
    admin_client, site, collection
):
    small_site(site)
    source = Source.objects.create(
        name="Docs",
        kind="website",
        collection=collection,
        start_urls=[f"{site.url}/docs/"],
        delay_s=0,
    )
    sync_and_ingest(source)
    document = Document.objects.get(source_item__key=f"{site.url}/docs/a.html")
    del site.pages["/docs/a.html"]
    site.pages["/docs/"] = Page(b"down", status=500)

    view = admin_client.get(reverse("source", args=[document.pk])).content.decode()
    sync_and_ingest(source)
    dashboard = admin_client.get(reverse("dashboard")).content.decode()

    assert f'href="{site.url}/docs/a.html" target="_blank"' in view
    assert "updated 0\xa0minutes ago" in view
    assert "Sources whose last sync failed" in dashboard
    assert ">Docs</a>" in dashboard and "1 failure" in dashboard
