"""What one sync saw, item by item: the bookkeeping both kinds of source share.

A page or file is stored only when its bytes changed (a conditional GET that answered 304, the
same size and mtime, or the same hash cost no parse and no embedding); a new version replaces
the old one in place through the pipeline; one gone at the source leaves search, recorded.
Each item's outcome is written in one transaction with the document it stored, so a sync that
dies between two items leaves nothing half-recorded, and the next sync doubles nothing.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ingest import pipeline
from ingest.models import Document, Source, SourceItem, SourceSync


class SourceError(Exception):
    """The whole sync cannot go on (a folder that is not there); the message is for the admin."""


class LostLock(Exception):
    """Another sync took the source over (this one's lease ran out)."""


class Run:
    def __init__(
        self,
        source: Source,
        record: SourceSync,
        claim: uuid.UUID,
        queue: Callable[[int], None],
    ) -> None:
        self.source = source
        self.record = record
        self.claim = claim
        self.queue = queue
        self.items = {item.key: item for item in source.items.all()}

    # --- the lock and the counts ---------------------------------------------------------------

    def keep_alive(self) -> None:
        """Renew the lock and save the counts so far; stop if another sync took over."""
        if not self.source.renew_sync(self.claim, lease_s=settings.SOURCES_SYNC_LEASE_S):
            raise LostLock
        self.record.save(update_fields=[*SourceSync.COUNTS, "document_ids", "failure_reason"])

    def count(self, name: str) -> None:
        setattr(self.record, name, getattr(self.record, name) + 1)

    def note(self, problem: str) -> None:
        """A problem that is not one item's (a sitemap that could not be read)."""
        self.count("failed")
        self.record.failure_reason = "\n".join(filter(None, [self.record.failure_reason, problem]))

    # --- items ---------------------------------------------------------------------------------

    def item(self, key: str) -> SourceItem:
        if key not in self.items:
            self.items[key] = SourceItem(source=self.source, key=key)
        return self.items[key]

    def seen_now(self, item: SourceItem) -> bool:
        return item.last_sync_id == self.record.pk

    def validators(self, key: str) -> tuple[str, str]:
        """The ETag and Last-Modified to send for a URL: only for a page whose stored bytes are
        in search (a 304 must never stand in for bytes we do not have)."""
        item = self.items.get(key)
        if item is None or item.state != SourceItem.State.PRESENT or not item.document_id:
            return "", ""
        return item.etag, item.last_modified

    def _touch(self, item: SourceItem, **fields) -> None:
        for name, value in fields.items():
            setattr(item, name, value)
        item.last_sync = self.record
        item.fetched_at = timezone.now()

    def unchanged(self, item: SourceItem, **fields) -> None:
        self._touch(item, **fields)
        if item.state == SourceItem.State.SKIPPED:
            self.count("skipped")
        else:
            item.state, item.reason = SourceItem.State.PRESENT, ""
            self.count("unchanged")
        item.save()

    def skipped(self, item: SourceItem, reason: str, **fields) -> None:
        self._touch(item, **fields)
        item.state, item.reason = SourceItem.State.SKIPPED, reason
        item.save()
        self.count("skipped")

    def failed(self, item: SourceItem, reason: str, **fields) -> None:
        """A failure to read it this time (5xx, timeout, TLS): never a removal; its document, if
        it has one, stays in search and the next sync tries again."""
        self._touch(item, **fields)
        item.state, item.reason = SourceItem.State.FAILED, reason
        item.save()
        self.count("failed")

    def store(self, item: SourceItem, data: bytes, *, source_path: str, **fields) -> None:
        """The bytes read for an item: unchanged if their hash is, else submitted (a new
        document, or the next version of its document, queued for ingestion)."""
        sha256 = hashlib.sha256(data).hexdigest()
        fields |= {"sha256": sha256, "size_bytes": len(data)}
        in_search = item.state == SourceItem.State.PRESENT and item.document_id
        if item.pk and item.sha256 == sha256 and (in_search or item.state == "skipped"):
            self.unchanged(item, **fields)
            return
        was_there = bool(item.pk) and bool(item.sha256) and item.state != SourceItem.State.REMOVED
        with transaction.atomic():
            if item.pk is None:
                item.save()
            submission = pipeline.submit(
                collection=self.source.collection,
                source_path=source_path,
                data=data,
                uploaded_by=self.source.created_by,
                source_item=item,
            )
            self._touch(item, **fields)
            item.removed_at = None
            document = submission.document
            if submission.skipped:
                item.state = SourceItem.State.SKIPPED
                item.reason = _("%(kind)s is not a document") % {"kind": submission.skipped}
                self.count("skipped")
            elif submission.failed or document is None:
                item.state, item.reason = SourceItem.State.FAILED, submission.message
                self.count("failed")
            elif document.status == Document.Status.FAILED and not submission.duplicate:
                item.state, item.reason = SourceItem.State.FAILED, document.failure_reason
                item.document = document
                self.count("failed")
            else:
                # The same bytes at the same path ingested by hand: the source adopts them.
                if (
                    submission.duplicate
                    and document.source_item_id is None
                    and document.source_path == submission.source_path
                ):
                    Document.objects.filter(pk=document.pk).update(source_item=item)
                item.state, item.reason = SourceItem.State.PRESENT, ""
                item.document = document
                item.changed_at = timezone.now()
                self.count("changed" if was_there else "added")
                if submission.queued:
                    self.record.document_ids.append(document.pk)
                    self.queue(document.pk)
            item.save()

    def gone(self, item: SourceItem, reason: str) -> None:
        """Gone at the source (404/410, deleted from the folder): removed from search."""
        if item.pk is None or item.state == SourceItem.State.REMOVED:
            return
        self.remove(item, reason)

    def remove(self, item: SourceItem, reason: str) -> None:
        with transaction.atomic():
            was_skipped = item.state == SourceItem.State.SKIPPED
            item.state, item.reason = SourceItem.State.REMOVED, reason
            item.removed_at = timezone.now()
            item.last_sync = self.record
            item.save()
            for document in Document.objects.filter(source_item=item).exclude(
                status__in=[Document.Status.SUPERSEDED, Document.Status.REMOVED]
            ):
                # The same bytes live on at another URL or path of a source: it keeps them.
                heir = (
                    SourceItem.objects.filter(document=document)
                    .exclude(pk=item.pk)
                    .exclude(state=SourceItem.State.REMOVED)
                    .first()
                )
                if heir is not None:
                    Document.objects.filter(pk=document.pk).update(source_item=heir)
                else:
                    Document.objects.filter(pk=document.pk).remove_from_search(
                        _("Removed at its source (%(source)s): %(reason)s")
                        % {"source": self.source.name, "reason": reason}
                    )
        if not was_skipped:
            self.count("removed")

    def finish(self, *, complete: bool) -> None:
        """After a complete read of the source, what it no longer holds is removed."""
        self.record.complete = complete
        if not complete:
            return
        for item in self.source.items.exclude(state=SourceItem.State.REMOVED).exclude(
            last_sync=self.record
        ):
            self.remove(
                item,
                _("no longer on the site (neither linked nor in the sitemap)")
                if self.source.kind == Source.Kind.WEBSITE
                else _("no longer in the folder"),
            )
