from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingest import pipeline
from ingest.models import SourceSync
from ingest.sources import syncing
from tests.support.site import Site


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site().start()
    yield server
    server.stop()


@pytest.fixture
def loopback_allowed(settings):
    """The test site lives on loopback: list it, as an admin lists an intranet wiki."""
    settings.SOURCES_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    return settings


def sync_and_ingest(source) -> SourceSync:
    """Sync in the foreground, then ingest what it stored (a worker would)."""
    queued: list[int] = []
    record = syncing.sync(source.pk, queue=queued.append)
    assert record is not None
    for document_id in queued:
        pipeline.process(document_id)
    return record
