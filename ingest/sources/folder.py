"""A folder source: a directory on the server (a mounted share), read with the same rules as
`manage.py ingest`: hidden files and system litter skipped, what is not a document skipped by
name. A file whose size and mtime did not change is not read again; one whose bytes did is the
next version of its document; one deleted is removed from search."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from ingest import pipeline
from ingest.models import SourceItem
from ingest.parsers import not_a_document
from ingest.sources.recording import Run, SourceError

SKIPPED_NAMES = {".DS_Store", "Thumbs.db"}


def list_files(root: Path) -> tuple[list[Path], list[str]]:
    """Every file under `root` that may be a document, sorted, and the folders that could not
    be read (a listing with errors is incomplete: nothing is removed for want of it)."""
    errors: list[str] = []
    files = []
    for folder, subfolders, names in os.walk(root, onerror=lambda e: errors.append(str(e))):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        files += [
            Path(folder) / name
            for name in names
            if name not in SKIPPED_NAMES and not name.startswith(".")
        ]
    return sorted(files), errors


def scan(run: Run) -> bool:
    source = run.source
    root = Path(source.path)
    if not root.is_dir():
        raise SourceError(
            _("The folder %(path)s does not exist or is not a directory (is the share mounted?).")
            % {"path": source.path}
        )
    files, errors = list_files(root)
    for error in errors:
        run.note(error)
    present = {str(path.relative_to(root)): path for path in files}
    live = [item for item in run.items.values() if item.state != SourceItem.State.REMOVED]
    if not present and any(item.state == SourceItem.State.PRESENT for item in live):
        raise SourceError(
            _(
                "The folder %(path)s is empty; nothing was removed. If the share is unmounted, "
                "mount it again; if its files were really deleted, delete the source."
            )
            % {"path": source.path}
        )
    if not errors:
        # Deletions first: a renamed file's old name leaves before its new name is stored.
        for item in live:
            if item.key not in present:
                run.gone(item, _("deleted from the folder"))
    for key, path in present.items():
        run.count("seen")
        _file(run, run.item(key), path)
        run.keep_alive()
    return not errors


def _file(run: Run, item: SourceItem, path: Path) -> None:
    key = item.key
    try:
        stat = path.stat()
    except OSError as error:
        run.failed(item, error.strerror or str(error))
        return
    fields = {"size_bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if (
        item.pk
        and item.state in {SourceItem.State.PRESENT, SourceItem.State.SKIPPED}
        and item.size_bytes == stat.st_size
        and item.mtime_ns == stat.st_mtime_ns
    ):
        run.unchanged(item, **fields)
        return
    if kind := not_a_document(key):
        run.skipped(item, _("%(kind)s is not a document") % {"kind": kind}, **fields)
        return
    if pipeline.too_big(stat.st_size):
        run.failed(
            item,
            _("The file is %(size)s MB; the limit is %(limit)s MB (UPLOAD_MAX_MB).")
            % {"size": stat.st_size // 2**20, "limit": settings.UPLOAD_MAX_MB},
            **fields,
        )
        return
    try:
        data = path.read_bytes()
    except OSError as error:
        run.failed(item, error.strerror or str(error), **fields)
        return
    run.store(item, data, source_path=f"{run.source.name}/{key}", **fields)
