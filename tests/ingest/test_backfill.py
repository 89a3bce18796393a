"""Searchable first, complete later: READY without the English leg, which workers fill after."""

from __future__ import annotations

import os
import signal
from io import StringIO

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from ingest import backfill, pipeline, tasks
from ingest.chunking import Draft, embedding_text
from ingest.embedders import get_english_embedder
from ingest.models import Chunk, Collection, Document
from tests.conftest import start_worker
from tests.support.documents import ingest_text
from tests.support.qwen_standin import Reply
from tests.support.waiting import wait_for

GUIDE = "# Quotas\n\nEach person may ask 200 questions a day. Administrators raise it per group.\n"


def long_text(paragraphs: int) -> str:
    return "\n\n".join(
        f"Paragraph {i}: the checkpointer writes dirty buffers to disk, and the write-ahead log "
        f"guarantees that committed transactions survive a crash (case {i})."
        for i in range(paragraphs)
    )


def english_vector(chunk: Chunk) -> list[float]:
    draft = Draft(chunk.text, chunk.heading_path, None, None, 0)
    [vector] = get_english_embedder().embed([embedding_text(chunk.document.title, draft)])
    return vector


def filled_and_waiting() -> tuple[int, int]:
    filled = Chunk.objects.filter(embedding_en__isnull=False).count()
    return filled, Chunk.objects.filter(embedding_en_pending=True).count()


@pytest.mark.django_db
def test_a_document_is_ready_before_its_english_vectors_which_the_backfill_writes_once(
    collection,
):
    english = ingest_text(collection, "en.md", "# Backups\n\nRun pg_dump every night.")
    ingest_text(collection, "zh.md", "# 备份\n\n每天晚上运行备份命令，把数据库导出到文件。")

    assert english.status == Document.Status.READY
    assert filled_and_waiting() == (0, 1), "only the English passage waits; MiniLM reads no CJK"
    assert backfill.waiting() == 1

    assert backfill.fill() == 1

    chunk = Chunk.objects.get(document=english)
    assert list(chunk.embedding_en) == pytest.approx(english_vector(chunk), abs=1e-5)
    assert filled_and_waiting() == (1, 0)
    assert backfill.fill() == 0, "nothing is filled twice"


@pytest.mark.django_db
def test_with_the_english_leg_off_no_passage_waits(collection, settings):
    settings.EMBEDDING_EN = "none"

    ingest_text(collection, "en.md", "# Backups\n\nRun pg_dump every night.")

    assert filled_and_waiting() == (0, 0)
    assert backfill.waiting() == 0 and backfill.fill() == 0


@pytest.mark.django_db
def test_a_changed_document_ingested_again_while_its_backfill_waits_fills_only_the_new_version(
    collection,
):
    first = ingest_text(collection, "wal.md", "# WAL\n\nThe log is flushed at commit.")
    second = ingest_text(collection, "wal.md", "# WAL\n\nThe log is flushed at every commit.")

    first.refresh_from_db()
    assert first.status == Document.Status.SUPERSEDED
    assert backfill.fill() == 1
    [chunk] = Chunk.objects.all()
    assert chunk.document == second and "every commit" in chunk.text
    assert list(chunk.embedding_en) == pytest.approx(english_vector(chunk), abs=1e-5)


@pytest.mark.django_db(transaction=True)
def test_ingest_wait_says_what_the_english_leg_still_has_to_do_and_complete_does_it(tmp_path):
    (tmp_path / "guide.md").write_text(GUIDE)
    (tmp_path / "wal.md").write_text("# WAL\n\n" + long_text(40))

    out = call(tmp_path, wait=True)

    waiting = Chunk.objects.filter(embedding_en_pending=True).count()
    assert waiting > 1
    assert f"Background: {waiting} passages wait for the English leg ({waiting} of these" in out

    (tmp_path / "more.md").write_text("# More\n\nVacuum reclaims space.")
    out = call(tmp_path, complete=True)

    assert f"English leg: filled {waiting + 1} passages" in out
    assert "Complete: no passage waits for a background leg." in out
    assert filled_and_waiting() == (waiting + 1, 0)


def call(path, **options) -> str:
    out = StringIO()
    call_command("ingest", str(path), collection="Docs", stdout=out, **options)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_question_asked_while_the_backfill_runs_gets_its_cited_answer_at_once(
    live_server_url, standin
):
    # A large private document keeps the backfill busy; the asker reads only the guide, which
    # is filled last, so its passage waits for its English vector while the question is asked.
    ingest_text(Collection.objects.create(name="Archive"), "wal.md", "# WAL\n\n" + long_text(600))
    guide = ingest_text(Collection.objects.create(name="Ops", is_public=True), "guide.md", GUIDE)
    [answer_passage] = guide.chunks.all()
    worker = start_worker({"BACKFILL_BATCH": "2"}, "--queues=backfill")
    try:
        tasks.fill_background_legs.delay()
        wait_for(lambda: filled_and_waiting()[0] > 0, timeout=180)
        standin.script(Reply(text="Each person may ask 200 questions a day [1]."))
        user_token = token_for_new_user()

        reply = httpx.post(
            f"{live_server_url}/api/v1/ask",
            json={"question": "How many questions a day may each person ask?"},
            headers={"Authorization": f"Bearer {user_token}"},
            timeout=30,
        )

        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["status"] == "succeeded"
        assert body["answer"] == "Each person may ask 200 questions a day [1]."
        [citation] = body["citations"]
        assert citation["chunk_id"] == answer_passage.pk
        filled, waiting = filled_and_waiting()
        assert filled > 0 and waiting > 0, "the answer came while the backfill was running"
        answer_passage.refresh_from_db()
        assert answer_passage.embedding_en_pending, "it was found without its English vector"

        wait_for(lambda: filled_and_waiting()[1] == 0, timeout=300)
        assert worker.poll() is None
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    answer_passage.refresh_from_db()
    assert list(answer_passage.embedding_en) == pytest.approx(
        english_vector(answer_passage), abs=1e-5
    )


def token_for_new_user() -> str:
    get_user_model().objects.create_user("ann", password="pw-ann-123456")
    out = StringIO()
    call_command("create_api_token", "ann", stdout=out)
    return out.getvalue().strip()


@pytest.mark.django_db(transaction=True)
def test_a_backfill_worker_killed_mid_way_loses_no_vector_and_the_sweep_finishes_the_work():
    collection = Collection.objects.create(name="Ops")
    document = pipeline.process(
        pipeline.submit(
            collection=collection, source_path="wal.md", data=long_text(900).encode()
        ).document.pk
    )
    total = document.chunk_count
    first = start_worker({"BACKFILL_BATCH": "2"}, "--queues=backfill")
    try:
        tasks.fill_background_legs.delay()
        wait_for(lambda: filled_and_waiting()[0] > 0, timeout=180)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()

    filled, waiting = filled_and_waiting()
    assert 0 < filled < total and filled + waiting == total, "a batch is written whole or not"

    # The killed worker's task is lost with it (the filesystem broker has no visibility
    # timeout): beat's sweep queues the next filler, as here.
    second = start_worker({}, "--queues=backfill")
    try:
        tasks.fill_background_legs.delay()
        wait_for(lambda: filled_and_waiting() == (total, 0), timeout=300)
    finally:
        second.terminate()
        second.wait(timeout=30)
