"""Every benchmark in bench/ runs to its end at a tiny size, so none can silently break. No
figure is asserted: the figures belong to bench/ and the README, measured on a quiet machine.

Not run here: `footprint.py`, which measures a `make run` already serving and finds its processes
by their working folder (the checkout, `var/`), where the suite's own servers and workers run
too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.ingest import files

pytestmark = pytest.mark.slow
WORDS = [
    "checkpoint",
    "vacuum",
    "index",
    "replication",
    "backup",
    "restore",
    "planner",
    "buffer",
    "archive",
    "standby",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Six manual-like pages: headings and sentences of the manual's words."""
    folder = tmp_path_factory.mktemp("corpus")
    for page in range(6):
        sections = "".join(
            f"<h2>{page}.{n}. {WORDS[(page + n) % len(WORDS)].title()}</h2><p>"
            + " ".join(
                f"The {WORDS[(page * n + i) % len(WORDS)]} writes {WORDS[i % len(WORDS)]} pages."
                for i in range(25)
            )
            + "</p>"
            for n in range(4)
        )
        (folder / f"page{page}.html").write_text(
            f"<html><head><title>Chapter {page}</title></head><body><h1>Chapter {page}</h1>"
            f"{sections}</body></html>"
        )
    return folder


def bench(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    run = subprocess.run(
        [sys.executable, f"bench/{script}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    return run.stdout


@pytest.fixture
def kept():
    """A folder the database's own system user may enter (pytest's tmp_path is private)."""
    folder = Path(tempfile.mkdtemp(prefix="assistant-bench-kept-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_search_scale_runs_at_a_tiny_size(corpus, kept):
    out = bench(
        "search_scale.py",
        *("--sizes", "200", "--queries", "5", "--base-chunks", "20", "--ef-search", "100"),
        *("--corpus", str(corpus), "--maintenance-work-mem", "64MB", "--explain", "--json"),
        *("--index", "halfvec,m=8,ef_construction=32;app", "--pools", "60,100"),
        *("--keep", str(kept)),
    )
    assert '"recall_en"' in out and '"latency"' in out and '"build_peak_memory"' in out


def test_stream_latency_runs_at_a_tiny_size(corpus):
    out = bench(
        "stream_latency.py",
        *("--chunks", "100", "--base-chunks", "20", "--corpus", str(corpus)),
        *("--maintenance-work-mem", "64MB", "--streams", "1,3", "--samples", "2"),
        *("--users", "2", "--first-token-ms", "0", "--tokens", "5", "--token-gap-ms", "0"),
        *("--ramp-s", "0.5", "--json"),
    )
    assert '"levels"' in out


def test_replica_reads_runs_at_a_tiny_size(corpus):
    out = bench(
        "replica_reads.py",
        *("--chunks", "100", "--base-chunks", "20", "--corpus", str(corpus)),
        *("--maintenance-work-mem", "64MB", "--searches", "3", "--write-s", "0.5"),
        *("--max-lag-ms", "100"),
    )
    assert "through the replica" in out and "DATABASE_REPLICA_MAX_LAG_MS=100" in out


def test_ingest_manual_runs_on_a_tiny_corpus(corpus):
    out = bench("ingest_manual.py", "--corpus", str(corpus))
    assert "unchanged re-run" in out and "complete: " in out


def test_ingest_stages_runs_on_a_tiny_corpus(corpus):
    assert "backfill update" in bench("ingest_stages.py", "--corpus", str(corpus))


def test_plain_bm25_runs_on_a_tiny_corpus_in_a_fresh_clone(corpus, tmp_path):
    # No var/ yet (so no var/secret_key): what a clone has before its first `make run`.
    fresh = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    fresh["VAR_DIR"] = str(tmp_path / "var")

    assert bench("plain_bm25.py", "--corpus", str(corpus), "--words", "50", env=fresh)


def test_ocr_scan_runs_on_a_tiny_scan(tmp_path):
    (tmp_path / "manual.pdf").write_bytes(
        files.pdf(["Backups: run pg_dump every night and keep the files for a month."])
    )

    out = bench("ocr_scan.py", "--corpus", str(tmp_path), "--pages", "1", "--dpi", "100")

    assert "pages read by OCR: 1" in out


def test_source_sync_runs_on_a_tiny_site(corpus):
    out = bench("source_sync.py", "--corpus", str(corpus), "--start", "page0.html")

    assert "first sync" in out and "unchanged re-sync" in out


def test_reviewed_answers_prints_its_calibration():
    out = bench("reviewed_answers.py")

    assert "near misses served" in out and "0.80" in out
