"""A website source never reaches private, loopback, link-local or metadata addresses unless
its host is listed; the address checked is the one connected to, on every redirect."""

from __future__ import annotations

import pytest

from ingest.models import Source
from ingest.sources.fetching import FetchError, Policy, check_address
from tests.ingest.sources.conftest import sync_and_ingest
from tests.support.site import Page

POLICY = Policy(user_agent="test", timeout_s=5, max_bytes=2**20)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.9",
        "169.254.169.254",
        "100.100.100.200",
        "::1",
        "::ffff:127.0.0.1",
        "fd00:ec2::254",
        "0.0.0.0",
    ],
)
def test_private_loopback_link_local_and_metadata_addresses_are_refused(address):
    with pytest.raises(FetchError, match="private or reserved"):
        check_address(address, 80, policy=POLICY)


def test_a_name_is_checked_after_it_resolves():
    with pytest.raises(FetchError, match="localhost resolves to"):
        check_address("localhost", 80, policy=POLICY)


def website(site, collection) -> Source:
    site.html("/docs/", "Home", "The okapi page.", ["go.html"])
    return Source.objects.create(
        name="Intranet",
        kind="website",
        collection=collection,
        start_urls=[f"{site.url}/docs/"],
        delay_s=0,
        allowed_hosts=["127.0.0.1", "localhost", f"localhost:{site.server.server_port}"],
    )


@pytest.mark.django_db
def test_a_private_host_is_refused_without_the_allow_list(site, collection, settings):
    settings.SOURCES_ALLOWED_PRIVATE_HOSTS = []
    source = website(site, collection)

    record = sync_and_ingest(source)

    assert (record.added, record.removed) == (0, 0)
    assert "SOURCES_ALLOWED_PRIVATE_HOSTS" in record.failures.get().reason
    assert site.requests == [], "nothing was sent to the refused address"


@pytest.mark.django_db
def test_a_listed_private_host_is_crawled(site, collection, settings):
    settings.SOURCES_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]

    record = sync_and_ingest(website(site, collection))

    assert (record.added, record.failed) == (1, 0)


@pytest.mark.django_db
def test_a_redirect_to_an_unlisted_private_host_is_refused(site, collection, settings):
    settings.SOURCES_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    source = website(site, collection)
    site.pages["/docs/go.html"] = Page(
        location=f"http://localhost:{site.server.server_port}/docs/inside.html", status=302
    )
    site.html("/docs/inside.html", "Inside", "Never fetched.")

    record = sync_and_ingest(source)

    assert (record.added, record.failed, record.removed) == (1, 1, 0)
    assert "localhost resolves to" in record.failures.get().reason
    assert "/docs/inside.html" not in site.paths_requested()
