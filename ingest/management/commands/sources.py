"""`manage.py sources add|sync|list`: websites and folders a collection follows.

sources add website URL --collection NAME [--sitemap URL] [--max-pages N] [--every 1d]
sources add folder PATH --collection NAME [--every 1h]
sources sync [NAME_OR_ID] [--wait]
sources list
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from assistant.lib.durations import format_every, parse_every
from assistant.lib.schema import ensure_migrated
from ingest import tasks
from ingest.management.foreground import Foreground
from ingest.models import Collection, Source, SourceSync
from ingest.sources import syncing


class Command(BaseCommand):
    help = "Add, sync and list sources: websites and folders synced on a schedule."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="follow a website or a folder")
        add.add_argument("kind", choices=["website", "folder"])
        add.add_argument("location", help="the start URL, or the folder's path")
        add.add_argument("--collection", required=True)
        add.add_argument("--name", default="", help="default: the host, or the folder's name")
        add.add_argument("--sitemap", default="", help="a sitemap or sitemap index URL")
        add.add_argument("--max-pages", type=int, default=None)
        add.add_argument("--every", default="1d", help="how often: 1d, 12h, 30m, 1h30m")
        sync = actions.add_parser("sync", help="sync one source now, or every source")
        sync.add_argument("source", nargs="?", default="", metavar="NAME_OR_ID")
        sync.add_argument(
            "--wait",
            action="store_true",
            help="sync and ingest in the foreground, with a progress bar, then print the counts",
        )
        actions.add_parser("list", help="the sources, their schedule and their last sync")

    def handle(self, *args, action: str, **options):
        ensure_migrated(self.stdout)
        getattr(self, f"_{action}")(**options)

    def _add(self, *, kind, location, collection, name, sitemap, max_pages, every, **_):
        try:
            interval = parse_every(every)
        except ValueError as error:
            raise CommandError(str(error)) from None
        if kind == "folder":
            folder = Path(location).resolve()
            if not folder.is_dir():
                raise CommandError(f"{location} is not a folder on this server.")
            location = str(folder)
        target, created = Collection.objects.get_or_create(name=collection)
        if created:
            self.stdout.write(f"Created collection {target.name!r}.")
        try:
            source = syncing.add_source(
                kind=kind,
                location=location,
                collection=target,
                name=name,
                sitemap_url=sitemap,
                max_pages=max_pages,
                every=interval,
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(
            f"Added source #{source.pk} {source.name!r} ({source.kind}, {source.location}) to "
            f"{target.name!r}; it syncs every {format_every(source.every)}, first at the next "
            "sweep (or now: manage.py sources sync "
            f"{source.name} --wait)."
        )

    def _sync(self, *, source: str, wait: bool, **_):
        chosen = [_find(source)] if source else list(Source.objects.all())
        if not chosen:
            raise CommandError("No sources yet: add one with `manage.py sources add`.")
        for one in chosen:
            if not wait:
                tasks.sync_source.delay(one.pk)
                self.stdout.write(f"Queued a sync of {one.name!r} for the worker.")
                continue
            self.stdout.write(f"Syncing {one.name!r} ({one.location}) …")
            queued: list[int] = []
            record = syncing.sync(one.pk, queue=queued.append)
            if record is None:
                self.stdout.write(self.style.WARNING(f"{one.name!r} is syncing already."))
                continue
            seconds = Foreground(self.stdout).work(queued) if queued else 0.0
            self._report(record, seconds)

    def _report(self, record: SourceSync, ingest_s: float) -> None:
        took = (record.finished_at - record.started_at).total_seconds()
        counts = ", ".join(f"{name} {n}" for name, n in record.counts.items())
        style = self.style.SUCCESS if record.status == "succeeded" else self.style.ERROR
        self.stdout.write(
            style(f"\n{record.get_status_display()}: {counts}")
            + f" (sync {took:.1f} s, ingestion {ingest_s:.1f} s)"
        )
        if not record.complete and record.status == "succeeded":
            self.stdout.write("Incomplete (page limit or an unreadable sitemap): nothing removed.")
        if record.status == "failed":
            self.stdout.write(self.style.ERROR(f"  {record.failure_reason}"))
        for item in record.failures[:50]:
            self.stdout.write(self.style.ERROR(f"  {item.key}: {item.reason}"))

    def _list(self, **_):
        sources = Source.objects.select_related("collection")
        if not sources:
            self.stdout.write("No sources yet: add one with `manage.py sources add`.")
        for source in sources:
            last = source.last_sync
            when = (
                f"last sync {timezone.localtime(last.started_at):%Y-%m-%d %H:%M} "
                f"{last.status}: " + ", ".join(f"{k} {v}" for k, v in last.counts.items())
                if last
                else "never synced"
            )
            self.stdout.write(
                f"#{source.pk} {source.name} [{source.kind}] {source.location} -> "
                f"{source.collection.name}; every {format_every(source.every)}; {when}"
            )


def _find(name_or_id: str) -> Source:
    found = Source.objects.filter(name=name_or_id).first()
    if found is None and name_or_id.isdigit():
        found = Source.objects.filter(pk=int(name_or_id)).first()
    if found is None:
        raise CommandError(f"No source named {name_or_id!r}; `manage.py sources list` names them.")
    return found
