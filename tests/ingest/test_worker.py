"""Ingestion through a real Celery worker process, including one killed mid-task."""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from ingest import pipeline, tasks
from ingest.models import Chunk, Collection, Document
from tests.conftest import running_worker, start_worker
from tests.ingest import files
from tests.ingest.files import PDF_BOMB_VARIANTS
from tests.support.qwen_standin import Reply
from tests.support.waiting import wait_for


def status(document: Document) -> str:
    document.refresh_from_db()
    return document.status


def long_text(paragraphs: int) -> bytes:
    return "\n\n".join(
        f"Paragraph {i}: the checkpointer writes dirty buffers to disk, and the write-ahead log "
        f"guarantees that committed transactions survive a crash (case {i})."
        for i in range(paragraphs)
    ).encode()


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_ingests_good_and_broken_files(celery_worker):
    collection = Collection.objects.create(name="Ops")

    submissions = [
        pipeline.submit(
            collection=collection,
            source_path="ops/guide.md",
            data=b"# Backups\n\nRun pg_dump nightly.",
        ),
        pipeline.submit(
            collection=collection, source_path="ops/scan.pdf", data=b"%PDF-1.4 garbage"
        ),
    ]
    tasks.queue(submissions)
    good, bad = (s.document for s in submissions)

    wait_for(lambda: status(good) == "ready" and status(bad) == "failed")
    good.refresh_from_db()
    assert good.chunks.count() == 1
    assert "damaged" in bad.failure_reason
    assert celery_worker.poll() is None, "the worker lives on after a failure"


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_task_leaves_no_chunks_and_the_document_is_picked_up_again():
    collection = Collection.objects.create(name="Ops")
    first = start_worker(extra_env={"INGEST_LEASE_S": "3"})
    try:
        submission = pipeline.submit(
            collection=collection, source_path="wal.txt", data=long_text(1500)
        )
        tasks.queue([submission])
        document = submission.document
        wait_for(lambda: Document.objects.get(pk=document.pk).embedded_count > 0)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()

    document.refresh_from_db()
    assert document.status == Document.Status.PROCESSING
    assert not Chunk.objects.filter(document=document).exists()

    # Once the dead worker's 3 s lease runs out, the sweep queues the document again.
    assert wait_for(tasks.requeue_stale_documents, timeout=60) == [document.pk]
    second = start_worker()
    try:
        wait_for(lambda: status(document) == "ready", timeout=180)
    finally:
        second.terminate()
        second.wait(timeout=30)
    ordinals = list(document.chunks.values_list("ordinal", flat=True))
    assert ordinals == list(range(document.chunk_count))
    assert document.attempts == 2


def peak_resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.django_db(transaction=True)
def test_bombs_fail_with_a_reason_while_the_worker_keeps_its_memory():
    ceiling_mb = 400
    limits = {
        "DOCX_MAX_UNCOMPRESSED_MB": "20",
        "PARSE_MAX_MEMORY_MB": "256",
        "WORKER_MAX_MEMORY_MB": str(ceiling_mb),
    }
    with running_worker(limits) as worker:
        collection = Collection.objects.create(name="Hostile")
        bombs = {f"{variant}.pdf": files.pdf_bomb(40, variant) for variant in PDF_BOMB_VARIANTS}
        bombs["paragraphs.docx"] = files.docx_paragraph_bomb(expanded_mb=19)
        submissions = [
            pipeline.submit(collection=collection, source_path=name, data=data)
            for name, data in bombs.items()
        ]
        tasks.queue(submissions)
        documents = {s.source_path: s.document for s in submissions}

        wait_for(lambda: all(status(d) == "failed" for d in documents.values()))

        reasons = {name: d.failure_reason for name, d in documents.items()}
        assert all(
            "expands to more than 20 MB" in reasons[f"{variant}.pdf"]
            for variant in PDF_BOMB_VARIANTS
        ), reasons
        assert "more than 256 MB of memory (PARSE_MAX_MEMORY_MB)" in reasons["paragraphs.docx"]
        assert not Chunk.objects.filter(document__collection=collection).exists()
        assert worker.poll() is None, "the worker lives on"
        assert peak_resident_mb(worker.pid) < ceiling_mb


@pytest.mark.django_db(transaction=True)
def test_a_queued_document_that_no_task_took_is_queued_again_by_the_sweep(celery_worker):
    collection = Collection.objects.create(name="Ops")
    # Stored, but the request died before its task was queued.
    submission = pipeline.submit(collection=collection, source_path="a.md", data=b"# A\n\nWords.")
    document = submission.document
    Document.objects.filter(pk=document.pk).update(
        updated_at=timezone.now() - timedelta(minutes=11)
    )

    swept = tasks.requeue_stale_documents()

    wait_for(lambda: status(document) == "ready")
    assert swept == [document.pk]
    assert tasks.requeue_stale_documents() == [], "once queued, the next sweeps leave it be"


@pytest.mark.django_db(transaction=True)
def test_a_long_document_keeps_its_lease_through_every_stage_and_finishes_once():
    collection = Collection.objects.create(name="Ops")
    # Long enough that its stages together take several leases, even on a quiet machine; a
    # lease long enough for one batch of 64 passages on a busy one.
    with running_worker({"INGEST_LEASE_S": "10"}):
        submission = pipeline.submit(
            collection=collection, source_path="wal.txt", data=long_text(3000)
        )
        tasks.queue([submission])
        document = submission.document
        requeued: list[int] = []

        def finished() -> bool:
            requeued.extend(pipeline.requeue_stale())  # the sweeper, as often as it likes
            return status(document) in {"ready", "failed"}

        wait_for(finished, timeout=240, every=0.5)

    document.refresh_from_db()
    assert document.status == Document.Status.READY, document.failure_reason
    assert requeued == [], "the lease never ran out"
    assert document.attempts == 1
    assert document.chunks.count() == document.chunk_count


@pytest.mark.django_db(transaction=True)
def test_an_embedding_service_failing_past_its_retries_is_a_transient_error_the_task_retries(
    standin,
):
    # Qwen's embedder tries a batch four times; the stand-in fails all four, then answers.
    standin.script(*[Reply(status=503)] * 4)
    qwen_embedder = {
        "EMBEDDING_PROVIDER": "qwen",
        "EMBEDDING_DIMENSIONS": "512",  # the test database's column
        "QWEN_BASE_URL": standin.base_url,
        "QWEN_API_KEY": "sk-test-not-a-real-key",
    }
    with running_worker(qwen_embedder):
        submission = pipeline.submit(
            collection=Collection.objects.create(name="Ops"),
            source_path="backups.md",
            data=b"# Backups\n\nRun pg_dump nightly.",
        )
        tasks.queue([submission])
        document = submission.document

        wait_for(lambda: status(document) in {"ready", "failed"})

    document.refresh_from_db()
    assert document.status == Document.Status.READY, document.failure_reason
    assert document.attempts == 2, "one failed run, then the task's retry"
    embedding_calls = [body for body in standin.requests if "input" in body]
    assert len(embedding_calls) == 5
    assert document.chunks.count() == 1
