from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from ingest import embedding_space, pipeline
from ingest.models import Chunk, Collection, Document
from tests.ingest import files


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


@pytest.mark.django_db
def test_ingest_wait_processes_a_folder_tree_in_the_foreground_and_summarises(tree):
    out = run("ingest", str(tree), collection="Manuals", wait=True)

    documents = {d.source_path: d for d in Document.objects.all()}
    assert set(documents) == {"en-US/intro.html", "zh-CN/intro.html", "en-US/scan.pdf"}
    assert documents["en-US/intro.html"].status == "ready"
    assert documents["zh-CN/intro.html"].status == "ready"
    assert documents["en-US/scan.pdf"].status == "failed"
    assert "Ready: 2 (2 chunks); failed: 1; unchanged: 0" in out
    assert "en-US/scan.pdf: No text found: is it a scanned PDF?" in out
    assert "3/3 documents" in out
    assert Collection.objects.get().name == "Manuals"


@pytest.mark.django_db
def test_ingesting_the_same_tree_again_has_nothing_to_do(tree):
    run("ingest", str(tree), collection="Manuals", wait=True)

    out = run("ingest", str(tree), collection="Manuals", wait=True)

    assert "Submitted 3 files (2 already ingested)" in out
    assert Document.objects.filter(status="ready").count() == 2


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
