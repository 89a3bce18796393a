"""A website source against a real HTTP server on loopback: sitemap index (gzipped child),
robots.txt, links, a PDF, a redirect, a 404, ETags; then changes, removals and additions."""

from __future__ import annotations

import gzip

import pytest
from django.contrib.auth.models import User

from ingest.models import Chunk, Document, Source, SourceItem
from ingest.search.retrieval import search
from tests.ingest import files
from tests.ingest.sources.conftest import sync_and_ingest
from tests.support.site import Page

pytestmark = pytest.mark.usefixtures("loopback_allowed")


def build(site) -> None:
    site.pages["/robots.txt"] = Page(
        b"User-agent: *\nDisallow: /docs/private/\n", content_type="text/plain"
    )
    site.pages["/sitemap.xml"] = Page(
        (
            '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
            f'sitemap/0.9"><sitemap><loc>{site.url}/sitemap-docs.xml.gz</loc></sitemap>'
            "</sitemapindex>"
        ).encode(),
        content_type="application/xml",
    )
    sitemap(site, ["/docs/", "/docs/orphan.html"])
    site.html(
        "/docs/",
        "Docs home",
        "Welcome to the documentation.",
        [
            "install.html",
            "moved",
            "private/secret.html",
            "manual.pdf",
            "missing.html",
            "style.css",
            "http://elsewhere.invalid/page",
        ],
    )
    site.html("/docs/install.html", "Install", "Install the zebrafish agent with apt.")
    site.pages["/docs/moved"] = Page(location="/docs/upgrade.html", status=301)
    site.html("/docs/upgrade.html", "Upgrade", "Upgrading needs a quokka restart.")
    site.html("/docs/private/secret.html", "Secret", "The narwhal password.")
    site.html("/docs/orphan.html", "Orphan", "Listed only in the sitemap: the axolotl.")
    site.pages["/docs/manual.pdf"] = Page(
        files.pdf(["The manual explains the pangolin procedure."], title="Manual"),
        content_type="application/pdf",
    )


def sitemap(site, paths: list[str]) -> None:
    urls = "".join(f"<url><loc>{site.url}{path}</loc></url>" for path in paths)
    site.pages["/sitemap-docs.xml.gz"] = Page(
        gzip.compress(
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode()
        ),
        content_type="application/gzip",
    )


def found(word: str, collection) -> set[str]:
    admin = User.objects.filter(username="reader").first() or User.objects.create_superuser(
        "reader", password="x"
    )
    hits = search(word, user=admin, collection_ids=[collection.pk], rerank=False).hits
    return {Document.objects.get(pk=hit.document_id).title for hit in hits if word in hit.text}


def source_for(site, collection) -> Source:
    return Source.objects.create(
        name="Docs",
        kind=Source.Kind.WEBSITE,
        collection=collection,
        start_urls=[f"{site.url}/docs/"],
        sitemap_url=f"{site.url}/sitemap.xml",
        delay_s=0,
    )


@pytest.mark.django_db
def test_a_site_is_synced_then_its_changes_removals_and_additions_followed(site, collection):
    build(site)
    source = source_for(site, collection)

    first = sync_and_ingest(source)

    assert first.status == "succeeded" and first.complete
    assert (first.added, first.changed, first.removed, first.failed) == (5, 0, 0, 0)
    present = set(source.items.filter(state="present").values_list("key", flat=True))
    assert present == {
        f"{site.url}/docs/",
        f"{site.url}/docs/install.html",
        f"{site.url}/docs/upgrade.html",
        f"{site.url}/docs/orphan.html",
        f"{site.url}/docs/manual.pdf",
    }
    requested = site.paths_requested()
    assert "/docs/private/secret.html" not in requested, "robots.txt disallows it"
    assert "/docs/style.css" not in requested
    upgrade = source.items.get(key=f"{site.url}/docs/upgrade.html")
    assert upgrade.redirects == [f"{site.url}/docs/moved"]
    assert all(r.user_agent.startswith("QwenAssistantBot") for r in site.requests)
    assert found("zebrafish", collection) == {"Install"}
    assert found("pangolin", collection) == {"Manual"}
    assert found("quokka", collection) == {"Upgrade"}

    # A week later: install changes, upgrade is deleted (404), a page appears, the orphan
    # leaves the sitemap (still served, no longer part of the site).
    site.html("/docs/install.html", "Install", "Install the platypus agent with dnf.")
    del site.pages["/docs/upgrade.html"]
    site.html("/docs/new.html", "New", "A new page about the wombat.")
    site.html(
        "/docs/",
        "Docs home",
        "Welcome to the documentation.",
        ["install.html", "moved", "manual.pdf", "new.html"],
    )
    sitemap(site, ["/docs/"])

    second = sync_and_ingest(source)

    assert second.complete
    counts = (second.added, second.changed, second.unchanged, second.removed, second.failed)
    assert counts == (1, 2, 1, 2, 0)
    assert found("zebrafish", collection) == set()
    assert found("platypus", collection) == {"Install"}
    assert found("quokka", collection) == set()
    assert found("axolotl", collection) == set()
    assert found("wombat", collection) == {"New"}
    gone = source.items.get(key=f"{site.url}/docs/upgrade.html")
    assert gone.state == SourceItem.State.REMOVED and "404" in gone.reason
    assert gone.removed_at is not None
    assert Document.objects.get(source_item=gone).status == Document.Status.REMOVED
    orphan = source.items.get(key=f"{site.url}/docs/orphan.html")
    assert orphan.state == SourceItem.State.REMOVED and "sitemap" in orphan.reason

    # Nothing changes: every page is asked for with its ETag, answers 304, nothing is re-read.
    documents, chunks = Document.objects.count(), set(Chunk.objects.values_list("pk", flat=True))
    site.requests.clear()

    third = sync_and_ingest(source)

    pages = [
        r
        for r in site.requests
        if r.path.startswith("/docs/") and site.pages.get(r.path, Page(location="gone")).body
    ]
    assert pages and [r.path for r in pages if not r.if_none_match] == []
    assert (third.added, third.changed, third.removed, third.failed) == (0, 0, 0, 0)
    assert third.unchanged == 4
    assert third.document_ids == []
    assert Document.objects.count() == documents
    assert set(Chunk.objects.values_list("pk", flat=True)) == chunks


@pytest.mark.django_db
def test_a_server_error_or_a_timeout_is_a_failure_with_its_reason_never_a_removal(
    site, collection, settings
):
    settings.SOURCES_TIMEOUT_S = 1.0
    site.html("/docs/", "Home", "Home.", ["a.html", "slow.html"])
    site.html("/docs/a.html", "A", "The capybara page.")
    site.html("/docs/slow.html", "Slow", "The tapir page.")
    source = Source.objects.create(
        name="Docs", kind="website", collection=collection, start_urls=[f"{site.url}/docs/"]
    )
    source.delay_s = 0
    source.save()
    assert sync_and_ingest(source).added == 3

    site.pages["/docs/a.html"] = Page(b"down for maintenance", status=503)
    site.hold = "/docs/slow.html"  # answers after the crawler gave up
    record = sync_and_ingest(source)

    assert (record.failed, record.removed) == (2, 0)
    reasons = {item.key.rsplit("/", 1)[-1]: item.reason for item in record.failures.order_by("key")}
    assert "503" in reasons["a.html"]
    assert "timed out" in reasons["slow.html"]
    assert found("capybara", collection) == {"A"}
    assert found("tapir", collection) == {"Slow"}
