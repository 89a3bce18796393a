"""Syncs in a real Celery worker: one killed mid-sync, and the next sync completes it with no
duplicate documents."""

from __future__ import annotations

import os
import signal

import pytest

from ingest import tasks
from ingest.models import Document, Source, SourceSync
from ingest.sources import syncing
from tests.conftest import start_worker
from tests.ingest.sources.conftest import sync_and_ingest
from tests.support.waiting import wait_for


@pytest.mark.django_db(transaction=True)
def test_a_sync_killed_mid_way_is_resumed_by_the_sweep_without_duplicate_documents(
    site, collection, loopback_allowed
):
    pages = [f"p{i}.html" for i in range(6)]
    site.html("/docs/", "Home", "The index.", pages)
    for i, page in enumerate(pages):
        site.html(f"/docs/{page}", f"Page {i}", f"Page {i} describes the gecko number {i}.")
    site.hold = "/docs/p3.html"
    source = Source.objects.create(
        name="Docs",
        kind="website",
        collection=collection,
        start_urls=[f"{site.url}/docs/"],
        delay_s=0,
    )
    worker = start_worker(
        {"SOURCES_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "SOURCES_SYNC_LEASE_S": "3"}
    )
    try:
        tasks.sync_source.delay(source.pk)
        assert site.held.wait(timeout=120), "the worker reached the held page"
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    site.hold = ""
    site.release.set()
    crashed = SourceSync.objects.get(source=source)
    assert crashed.status == SourceSync.Status.RUNNING and crashed.added >= 3

    # Once the dead worker's 3 s lease has run out, beat's sweep frees the lock and queues it.
    assert wait_for(syncing.resume_and_due, timeout=60) == [source.pk]
    resumed = sync_and_ingest(source)

    crashed.refresh_from_db()
    assert crashed.status == SourceSync.Status.INTERRUPTED
    assert resumed.status == SourceSync.Status.SUCCEEDED and resumed.complete
    assert resumed.added == 7 - crashed.added
    documents = Document.objects.filter(source_item__source=source)
    paths = list(documents.values_list("source_path", flat=True))
    assert len(paths) == len(set(paths)) == 7


@pytest.mark.django_db
def test_one_sync_of_a_source_at_a_time(site, collection, loopback_allowed):
    site.html("/docs/", "Home", "The index.")
    source = Source.objects.create(
        name="Docs", kind="website", collection=collection, start_urls=[f"{site.url}/docs/"]
    )
    held = source.claim_sync(lease_s=60)

    assert syncing.sync(source.pk, queue=print) is None
    assert syncing.resume_and_due() == []  # due, but locked: not queued twice

    source.release_sync(held, started_at=source.created_at)
    assert syncing.sync(source.pk, queue=lambda pk: None).status == "succeeded"
