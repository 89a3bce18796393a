"""One sync of a source at a time, and the schedule.

`sync` takes the source's lock (a conditional UPDATE with a lease, renewed after every page or
file), reads the source and records what changed. A worker killed mid-sync leaves its lock to
run out: the sweep (`resume_and_due`) frees it and queues the source again, and that sync marks
the dead one interrupted and starts over. It redoes little: every page already read has its
validators, hash and links saved, and every document it stored is known by URL or path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import PurePath
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from assistant.lib import metrics
from ingest.models import Source, SourceSync
from ingest.sources import folder, website
from ingest.sources.recording import LostLock, Run, SourceError

log = logging.getLogger(__name__)


def sync(source_id: int, *, queue: Callable[[int], None]) -> SourceSync | None:
    """Sync a source now; None when another sync holds it. `queue(document_id)` hands each new
    document to ingestion (a worker, or the foreground)."""
    source = Source.objects.select_related("collection", "created_by").get(pk=source_id)
    claim = source.claim_sync(lease_s=settings.SOURCES_SYNC_LEASE_S)
    if claim is None:
        return None
    started = timezone.now()
    source.syncs.filter(status=SourceSync.Status.RUNNING).update(
        status=SourceSync.Status.INTERRUPTED,
        finished_at=started,
        failure_reason=_("Its worker stopped before the end; the next sync started over."),
    )
    record = SourceSync.objects.create(source=source, claim=claim, started_at=started)
    run = Run(source, record, claim, queue)
    try:
        complete = website.crawl(run) if source.kind == Source.Kind.WEBSITE else folder.scan(run)
        run.finish(complete=complete)
        record.status = SourceSync.Status.SUCCEEDED
    except LostLock:
        log.warning("the sync of source %s was taken over by another run", source.pk)
        return record
    except SourceError as error:
        record.status = SourceSync.Status.FAILED
        record.failure_reason = "\n".join(filter(None, [str(error), record.failure_reason]))
    except Exception as error:
        log.exception("syncing source %s failed", source.pk)
        record.status = SourceSync.Status.FAILED
        record.failure_reason = _(
            "Unexpected error while syncing (%(error)s). Sync again; if it fails again, report "
            "it with this message."
        ) % {"error": f"{type(error).__name__}: {error}"}
    record.finished_at = timezone.now()
    record.claim = None
    record.save()
    source.release_sync(claim, started_at=started)
    metrics.SOURCE_SYNCS.labels(record.status).inc()
    return record


def resume_and_due() -> list[int]:
    """The sources to sync now: those whose sync died (its lock's lease ran out: freed here) and
    those whose time has come (their next time moved on here, by a conditional UPDATE, so two
    sweeps never queue one source twice)."""
    now = timezone.now()
    ids = []
    for pk, claim in Source.objects.filter(
        sync_claim__isnull=False, sync_lease_expires_at__lt=now
    ).values_list("pk", "sync_claim"):
        if Source.objects.filter(pk=pk, sync_claim=claim, sync_lease_expires_at__lt=now).update(
            sync_claim=None, sync_lease_expires_at=None
        ):
            ids.append(pk)
    due = Source.objects.filter(enabled=True, sync_claim__isnull=True).filter(
        Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now)
    )
    for pk, next_at in due.values_list("pk", "next_sync_at"):
        if (
            Source.objects.filter(pk=pk, next_sync_at=next_at).update(next_sync_at=now + F("every"))
            and pk not in ids
        ):
            ids.append(pk)
    return ids


def add_source(
    *,
    kind: str,
    location: str,
    collection,
    name: str = "",
    sitemap_url: str = "",
    max_pages: int | None = None,
    every=None,
    created_by=None,
) -> Source:
    """A new source, checked (Source.clean), due at once. Raises ValidationError."""
    if kind == Source.Kind.WEBSITE:
        fields = {"start_urls": [location] if location else [], "sitemap_url": sitemap_url}
        default_name = urlsplit(location or sitemap_url).netloc
    else:
        fields = {"path": location}
        default_name = PurePath(location).name
    source = Source(
        kind=kind,
        collection=collection,
        name=name or default_name,
        created_by=created_by,
        **fields,
    )
    if max_pages is not None:
        source.max_pages = max_pages
    if every is not None:
        source.every = every
    source.full_clean()
    source.save()
    return source
