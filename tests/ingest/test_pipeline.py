from __future__ import annotations

from django.db import connection
from django.db.models import Count, Q

from ingest import pipeline
from ingest.models import Chunk, Document
from tests.ingest import files

GUIDE = b"""# Vacuum

Autovacuum reclaims storage occupied by dead tuples.

## Tuning

Raise autovacuum_max_workers when tables bloat.
"""


def ingest(collection, name: str, data: bytes) -> Document:
    """Submit, then run the pipeline here (the worker tests run it in a real worker)."""
    submission = pipeline.submit(collection=collection, source_path=name, data=data)
    return pipeline.process(submission.document.pk)


def test_a_document_becomes_ready_with_embedded_searchable_chunks(collection):
    document = ingest(collection, "guide.md", GUIDE)

    assert document.status == Document.Status.READY
    assert (document.title, document.media_type, document.progress) == (
        "Vacuum",
        "text/markdown",
        100,
    )
    chunks = list(document.chunks.order_by("ordinal"))
    assert [c.heading_path for c in chunks] == ["Vacuum", "Vacuum › Tuning"]
    assert document.chunk_count == document.embedded_count == 2
    assert all(len(c.embedding) == 512 for c in chunks)
    hits = Chunk.objects.extra(
        where=["search_vector @@ websearch_to_tsquery('english', %s)"], params=["tuple"]
    )
    assert [c.ordinal for c in hits] == [0]
    assert "autovacuummaxworkers" in chunks[1].search_extra


def test_the_same_bytes_are_not_ingested_twice(collection):
    first = ingest(collection, "guide.md", GUIDE)

    again = pipeline.submit(collection=collection, source_path="copy-of-guide.md", data=GUIDE)

    assert again.duplicate
    assert again.document == first
    assert f"document #{first.pk}" in again.message
    assert Document.objects.count() == 1


def test_a_changed_file_replaces_its_previous_version(collection):
    old = ingest(collection, "guide.md", GUIDE)

    new = ingest(collection, "guide.md", GUIDE.replace(b"dead tuples", b"dead row versions"))

    old.refresh_from_db()
    assert (old.status, new.status, new.version, new.replaces) == (
        Document.Status.SUPERSEDED,
        Document.Status.READY,
        2,
        old,
    )
    assert not old.chunks.exists()
    texts = " ".join(Chunk.objects.values_list("text", flat=True))
    assert "dead row versions" in texts
    assert "dead tuples" not in texts


def test_a_failed_new_version_leaves_the_current_one_answering(collection):
    old = ingest(collection, "guide.md", GUIDE)

    broken = ingest(collection, "guide.md", b"\x89PNG\r\n\x1a\n...")

    old.refresh_from_db()
    assert broken.status == Document.Status.FAILED
    assert old.status == Document.Status.READY
    assert old.chunks.count() == 2


def test_bad_input_fails_with_a_reason_and_leaves_no_chunks(collection):
    good = ingest(collection, "guide.md", GUIDE)

    results = {
        name: ingest(collection, name, data)
        for name, data in [
            ("empty.txt", b""),
            ("secret.pdf", files.pdf(["x"], password="pw")),
            ("drawings.pdf", files.pdf_without_text()),
            ("bomb.docx", files.docx_bomb(250)),
            ("photo.pdf", files.png()),
            ("broken.pdf", files.pdf(["Some words"])[:300]),
        ]
    }

    assert {name: doc.status for name, doc in results.items()} == dict.fromkeys(
        results, Document.Status.FAILED
    )
    assert "empty" in results["empty.txt"].failure_reason
    assert "encrypted" in results["secret.pdf"].failure_reason
    assert "neither text nor pictures" in results["drawings.pdf"].failure_reason
    assert "decompression bomb" in results["bomb.docx"].failure_reason
    assert "PNG image" in results["photo.pdf"].failure_reason
    assert "damaged" in results["broken.pdf"].failure_reason
    assert Chunk.objects.exclude(document=good).count() == 0
    assert good.chunks.count() == 2


def test_an_oversized_file_is_refused_without_keeping_its_bytes(collection, settings):
    settings.UPLOAD_MAX_MB = 1

    submission = pipeline.submit(
        collection=collection, source_path="big.txt", data=b"a" * (3 * 2**20)
    )

    document = submission.document
    assert document.status == Document.Status.FAILED
    assert document.failure_reason == "The file is 3 MB; the limit is 1 MB."
    assert not document.file


def test_running_the_pipeline_twice_changes_nothing(collection):
    document = ingest(collection, "guide.md", GUIDE)
    before = list(document.chunks.values_list("pk", "text"))

    again = pipeline.process(document.pk)

    assert again.status == Document.Status.READY
    assert list(again.chunks.values_list("pk", "text")) == before


def test_chinese_text_becomes_chunks_a_chinese_keyword_finds(collection):
    text = "数据库会定期清理过期的行版本以回收空间。\n\n管理员可以调整自动清理的进程数。".encode()

    document = ingest(collection, "维护.txt", text)

    assert document.status == Document.Status.READY
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ordinal FROM ingest_chunk WHERE search_vector @@ to_tsquery('simple', %s)",
            ["清理 & 空间"],
        )
        assert cursor.fetchall() == [(0,)]


def test_english_passages_wait_for_the_english_legs_vector_and_chinese_ones_do_not(
    collection, settings
):
    ingest(collection, "en.md", b"# Backups\n\nRun pg_dump every night to back up.")
    ingest(collection, "zh.md", "# 备份\n\n每天晚上运行备份命令，把数据库导出到文件。".encode())
    settings.EMBEDDING_EN = "none"
    ingest(collection, "off.md", b"# Restore\n\nLoad the dump with pg_restore.")

    waiting = dict(
        Chunk.objects.values_list("document__source_path").annotate(
            n=Count("pk", filter=Q(embedding_en_pending=True))
        )
    )

    assert waiting == {"en.md": 1, "zh.md": 0, "off.md": 0}
    assert not Chunk.objects.filter(embedding_en__isnull=False).exists(), "the backfill writes them"


def test_paths_inside_a_folder_stay_distinct(collection):
    english = ingest(collection, "en-US/intro.html", b"<h1>Intro</h1><p>Hello.</p>")
    chinese = ingest(collection, "zh-CN/intro.html", "<h1>介绍</h1><p>你好。</p>".encode())

    assert {english.source_path, chinese.source_path} == {"en-US/intro.html", "zh-CN/intro.html"}
    assert english.version == chinese.version == 1
    assert pipeline.normalise_source_path("../../etc/passwd") == "etc/passwd"


def test_lexeme_statistics_follow_every_insert_and_delete(collection):
    from ingest.models import Lexeme, LexicalTotals

    document = ingest(collection, "guide.md", GUIDE)
    assert LexicalTotals.objects.get().chunks == 2
    assert Lexeme.objects.get(lexeme="autovacuum").df == 2
    assert Lexeme.objects.get(lexeme="autovacuummaxworkers").df == 1  # the glued identifier

    document.delete()

    assert LexicalTotals.objects.get().chunks == 0
    assert Lexeme.objects.get(lexeme="autovacuum").df == 0
