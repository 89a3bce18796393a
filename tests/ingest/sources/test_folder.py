"""A folder source on real files: added, changed, deleted and renamed files followed."""

from __future__ import annotations

import os

import pytest

from ingest.models import Document, Source, SourceItem
from tests.ingest.sources.conftest import sync_and_ingest


def live_paths(source) -> set[str]:
    return set(
        Document.objects.filter(source_item__source=source, status="ready").values_list(
            "source_path", flat=True
        )
    )


@pytest.mark.django_db
def test_a_folder_is_followed_through_additions_changes_deletions_and_renames(tmp_path, collection):
    (tmp_path / "guides").mkdir()
    (tmp_path / "guides" / "backup.md").write_text("# Backup\n\nRun the walrus backup nightly.")
    (tmp_path / "faq.txt").write_text("The heron question is answered here.")
    (tmp_path / "old.txt").write_text("An old note about the ibis.")
    (tmp_path / "site.css").write_text("body { color: red }")
    (tmp_path / ".hidden.md").write_text("# Hidden")
    source = Source.objects.create(
        name="share", kind=Source.Kind.FOLDER, collection=collection, path=str(tmp_path)
    )

    first = sync_and_ingest(source)

    assert (first.seen, first.added, first.skipped, first.removed) == (4, 3, 1, 0)
    assert live_paths(source) == {"share/guides/backup.md", "share/faq.txt", "share/old.txt"}

    (tmp_path / "faq.txt").write_text("The heron question now has a longer answer.")
    (tmp_path / "old.txt").unlink()
    (tmp_path / "guides" / "backup.md").rename(tmp_path / "guides" / "backups.md")
    (tmp_path / "new.md").write_text("# New\n\nThe egret arrives.")

    second = sync_and_ingest(source)

    assert (second.added, second.changed, second.removed, second.unchanged) == (2, 1, 2, 0)
    assert live_paths(source) == {"share/guides/backups.md", "share/faq.txt", "share/new.md"}
    old = source.items.get(key="old.txt")
    assert old.state == SourceItem.State.REMOVED and old.reason == "deleted from the folder"
    faq = Document.objects.get(source_path="share/faq.txt", status="ready")
    assert faq.version == 2
    assert "longer answer" in faq.chunks.get().text

    # Untouched files are not even read again (same size and mtime).
    third = sync_and_ingest(source)
    assert (third.added, third.changed, third.removed, third.unchanged) == (0, 0, 0, 3)

    # The same size, a new mtime, the same bytes: hashed, found unchanged, not re-ingested.
    stat = (tmp_path / "new.md").stat()
    os.utime(tmp_path / "new.md", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    fourth = sync_and_ingest(source)
    assert (fourth.changed, fourth.unchanged, fourth.document_ids) == (0, 3, [])


@pytest.mark.django_db
def test_a_missing_or_emptied_folder_fails_the_sync_and_removes_nothing(tmp_path, collection):
    (tmp_path / "a.txt").write_text("The lynx text.")
    source = Source.objects.create(
        name="share", kind=Source.Kind.FOLDER, collection=collection, path=str(tmp_path)
    )
    assert sync_and_ingest(source).added == 1

    (tmp_path / "a.txt").unlink()  # as an unmounted share looks
    emptied = sync_and_ingest(source)
    source.path = str(tmp_path / "nowhere")
    source.save()
    missing = sync_and_ingest(source)

    assert (emptied.status, emptied.removed) == ("failed", 0)
    assert "empty" in emptied.failure_reason
    assert (missing.status, missing.removed) == ("failed", 0)
    assert "does not exist" in missing.failure_reason
    assert live_paths(source) == {"share/a.txt"}
