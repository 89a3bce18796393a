"""Sync a documentation site served on loopback: first sync, unchanged re-sync, 5 % changed.

    bench/fetch_corpora.sh && .venv/bin/python bench/source_sync.py [--corpus bench/corpora/pg15]

The corpus (the PostgreSQL 15 manual's HTML pages, about 1,100) is copied to a scratch folder and
served by Python's http.server, which sends Last-Modified and answers If-Modified-Since with 304.
A website source (delay 0, the page limit above the corpus) starts at index.html; each sync runs
in the foreground and ingests what it stored, as `manage.py sources sync --wait` does. Prints the
three times, their counts, and the re-syncs' share of the first.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from common import ROOT, ScratchDatabase, stamp


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default=str(ROOT / "bench" / "corpora" / "pg15"))
    parser.add_argument("--start", default="index.html")
    parser.add_argument("--changed", type=float, default=0.05)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="source-sync-"))
    site = scratch / "site"
    shutil.copytree(args.corpus, site)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{args.start}"
    pages = sorted(site.rglob("*.htm*"))
    try:
        with ScratchDatabase():
            from django.conf import settings

            from ingest import pipeline
            from ingest.models import Collection, Source
            from ingest.sources import syncing

            settings.SOURCES_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
            collection = Collection.objects.create(name="bench")
            source = Source.objects.create(
                name="site",
                kind="website",
                collection=collection,
                start_urls=[url],
                delay_s=0,
                max_pages=len(pages) * 2 + 100,
                max_depth=50,
            )

            def timed_sync():
                queued: list[int] = []
                started = time.perf_counter()
                record = syncing.sync(source.pk, queue=queued.append)
                for document_id in queued:
                    pipeline.process(document_id)
                return time.perf_counter() - started, record

            first, one = timed_sync()
            again, two = timed_sync()
            step = max(1, round(1 / args.changed))
            for page in pages[::step]:
                text = page.read_text(errors="replace")
                page.write_text(text.replace("</body>", "<p>Changed for the benchmark.</p></body>"))
            changed, three = timed_sync()
    finally:
        server.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)

    def counts(record) -> str:
        return ", ".join(f"{k} {v}" for k, v in record.counts.items())

    print(f"Source sync benchmark, {stamp()}")
    print(f"site: {args.corpus} ({len(pages)} HTML pages) served on loopback")
    print(f"first sync: {first:.1f} s ({counts(one)})")
    print(
        f"unchanged re-sync: {again:.1f} s = {100 * again / first:.1f} % of the first "
        f"({counts(two)})"
    )
    print(f"after {len(pages[::step])} pages changed: {changed:.1f} s ({counts(three)})")


if __name__ == "__main__":
    main()
