from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from ingest import embedding_space, pipeline
from ingest.chunking import Draft, embedding_text
from ingest.embedders import get_english_embedder
from ingest.models import Chunk, Collection, Document
from tests.ingest import files
from tests.support.broker import queued_tasks


def run(*args, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "en-US").mkdir()
    (tmp_path / "zh-CN").mkdir()
    (tmp_path / "en-US" / "intro.html").write_text("<h1>Intro</h1><p>Welcome aboard.</p>")
    (tmp_path / "zh-CN" / "intro.html").write_text("<h1>介绍</h1><p>欢迎使用。</p>")
    (tmp_path / "en-US" / "scan.pdf").write_bytes(files.pdf_without_text())
    (tmp_path / ".hidden").write_text("skip me")
    return tmp_path


@pytest.mark.django_db(transaction=True)
def test_ingest_wait_processes_a_folder_tree_in_the_foreground_and_summarises(tree):
    out = run("ingest", str(tree), collection="Manuals", wait=True)

    documents = {d.source_path: d for d in Document.objects.all()}
    assert set(documents) == {"en-US/intro.html", "zh-CN/intro.html", "en-US/scan.pdf"}
    assert documents["en-US/intro.html"].status == "ready"
    assert documents["zh-CN/intro.html"].status == "ready"
    assert documents["en-US/scan.pdf"].status == "failed"
    assert "Ready: 2 (2 chunks); failed: 1; unchanged: 0; skipped: 0" in out
    assert "en-US/scan.pdf: No text found: the PDF's pages hold neither text nor pictures" in out
    assert "3/3 documents" in out
    assert Collection.objects.get().name == "Manuals"


@pytest.mark.django_db(transaction=True)
def test_ingesting_the_same_tree_again_has_nothing_to_do_not_even_a_new_failure(tree):
    run("ingest", str(tree), collection="Manuals", wait=True)

    out = run("ingest", str(tree), collection="Manuals", wait=True)

    assert "Submitted 3 files (3 unchanged, 0 skipped: not documents)" in out
    assert Document.objects.filter(status="ready").count() == 2
    assert Document.objects.filter(status="failed").count() == 1, "no second FAILED row"


@pytest.fixture
def website(tmp_path):
    """A website export: pages beside their stylesheets, scripts, fonts and images."""
    (tmp_path / "css").mkdir()
    (tmp_path / "img").mkdir()
    (tmp_path / "index.html").write_text("<h1>Handbook</h1><p>Citation hover preview.</p>")
    (tmp_path / "install.html").write_text("<h1>Install</h1><p>Run the installer.</p>")
    (tmp_path / "css" / "stylesheet.css").write_text(".citation:hover { preview: yes; }")
    (tmp_path / "css" / "common.css").write_text("body { margin: 0; }")
    (tmp_path / "app.js").write_text("document.querySelector('.citation');")
    (tmp_path / "font.woff2").write_bytes(b"wOF2\x00\x01")
    (tmp_path / "img" / "logo.gif").write_bytes(b"GIF89a")
    (tmp_path / "img" / "diagram.svg").write_text("<svg><text>Citation</text></svg>")
    return tmp_path


@pytest.mark.django_db(transaction=True)
def test_a_folder_ingest_indexes_the_pages_and_skips_what_is_not_a_document(website):
    out = run("ingest", str(website), collection="Site", wait=True)

    assert sorted(Document.objects.values_list("source_path", flat=True)) == [
        "index.html",
        "install.html",
    ]
    assert not Document.objects.filter(status="failed").exists()
    assert "Submitted 8 files (0 unchanged, 6 skipped: not documents)" in out
    assert "1 × a font, 1 × a script, 2 × a stylesheet, 2 × an icon or a drawing" in out
    assert "Ready: 2 (2 chunks); failed: 0; unchanged: 0; skipped: 6" in out

    again = run("ingest", str(website), collection="Site", wait=True)

    assert "Submitted 8 files (2 unchanged, 6 skipped: not documents)" in again
    assert Document.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_ingest_wait_queues_only_the_background_legs_while_ingest_without_wait_queues_each(
    tree, settings
):
    before = len(queued_tasks(settings))

    run("ingest", str(tree), collection="Foreground", wait=True)

    assert queued_tasks(settings)[before:] == [("ingest.tasks.fill_background_legs", [])]
    assert not Document.objects.filter(status="queued").exists()
    before = len(queued_tasks(settings))

    run("ingest", str(tree), collection="Background")

    background = Document.objects.filter(collection__name="Background", status="queued")
    assert background.count() == 3
    assert sorted(queued_tasks(settings)[before:]) == sorted(
        ("ingest.tasks.ingest_document", [document.pk]) for document in background
    )


@pytest.mark.django_db
def test_reembed_moves_every_chunk_to_the_new_embedder_without_mixing(settings, standin):
    collection = Collection.objects.create(name="Ops")
    document = pipeline.submit(
        collection=collection, source_path="a.md", data=b"# Backups\n\nRun pg_dump nightly."
    ).document
    pipeline.process(document.pk)
    settings.EMBEDDING_PROVIDER = "qwen"
    settings.EMBEDDING_MODEL = "text-embedding-v4"
    settings.EMBEDDING_DIMENSIONS = 64
    settings.QWEN_BASE_URL = standin.base_url
    settings.QWEN_API_KEY = "sk-test"

    refused = pipeline.submit(collection=collection, source_path="b.md", data=b"# B\n\nMore.")
    refused = pipeline.process(refused.document.pk)
    out = run("reembed")

    assert refused.status == "failed"
    assert "Run `manage.py reembed` first" in refused.failure_reason
    assert "Done: 1 chunks now in text-embedding-v4 (64 dims)" in out
    assert embedding_space.column_dimensions() == 64
    assert [len(v) for v in Chunk.objects.values_list("embedding", flat=True)] == [64]
    assert str(embedding_space.recorded()) == "text-embedding-v4 (64)"
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'chunk_embedding_hnsw'")
        assert "hnsw" in cursor.fetchone()[0]


@pytest.mark.django_db
def test_reembed_english_only_gives_english_passages_their_vector_and_touches_nothing_else(
    settings,
):
    settings.EMBEDDING_EN = "none"  # ingested before the English leg came
    collection = Collection.objects.create(name="Ops")
    for name, text in [
        ("en.md", "# Backups\n\nRun pg_dump nightly."),
        ("zh.md", "# 备份\n\n每晚运行备份。"),
    ]:
        document = pipeline.submit(collection=collection, source_path=name, data=text.encode())
        pipeline.process(document.document.pk)
    english = Chunk.objects.get(document__source_path="en.md")
    chinese = Chunk.objects.get(document__source_path="zh.md")
    assert english.embedding_en is None and chinese.embedding_en is None
    # A main vector no embedder would write: it must come out as it went in.
    marked = [1.0] + [0.0] * (len(english.embedding) - 1)
    Chunk.objects.filter(pk=english.pk).update(embedding=marked)
    space = str(embedding_space.recorded())
    settings.EMBEDDING_EN = "minilm"

    out = run("reembed", english_only=True)

    english.refresh_from_db()
    chinese.refresh_from_db()
    draft = Draft(english.text, english.heading_path, None, None, 0)
    text = embedding_text(english.document.title, draft)
    [expected] = get_english_embedder().embed([text])
    assert list(english.embedding_en) == pytest.approx(expected, abs=1e-5)
    assert chinese.embedding_en is None, "MiniLM reads no Chinese"
    assert list(english.embedding) == marked
    assert str(embedding_space.recorded()) == space
    assert "Re-embedded 2/2 chunks" in out
