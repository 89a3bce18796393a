"""Text recognition speed on a scanned PDF made from the PDF dev set's manuals.

    bench/fetch_corpora.sh && .venv/bin/python bench/ocr_scan.py [--pages 50] [--dpi 150]

Renders the first `--pages` pages of the manuals in bench/corpora/pdf (in file order) at `--dpi`
into an image-only PDF, as a scanner would make it (Pillow writes it; no text layer), then parses
it as an upload is parsed (`ingest.parsers.parse`: each page rendered back and read by the
configured OCR_PROVIDER and the OCR_* settings of the environment). Prints pages/s, the CPU
seconds a page took (all threads: on a shared machine the steadier figure), the share of words
of the original text layer that came back, and peak memory.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import resource
import time
from pathlib import Path

from common import ROOT, setup_django_without_database, stamp


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default=str(ROOT / "bench" / "corpora" / "pdf"))
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--dpi", type=int, default=150)
    args = parser.parse_args()

    setup_django_without_database()
    import pypdfium2 as pdfium
    from django.conf import settings

    from ingest.parsers import parse

    images, originals = [], []
    for path in sorted(Path(args.corpus).glob("*.pdf")):
        document = pdfium.PdfDocument(path.read_bytes())
        for index in range(len(document)):
            if len(images) == args.pages:
                break
            page = document[index]
            originals.append(page.get_textpage().get_text_bounded())
            images.append(page.render(scale=args.dpi / 72).to_pil().convert("L"))
        document.close()
    scan = io.BytesIO()
    images[0].save(scan, format="PDF", save_all=True, append_images=images[1:], resolution=args.dpi)

    started, cpu_started = time.perf_counter(), _cpu_seconds()
    parsed = parse(scan.getvalue(), "scan.pdf")
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def words(text: str) -> set[str]:
        return set(re.findall(r"[a-z]{4,}", text.lower()))

    wanted = words(" ".join(originals))
    found = words(" ".join(b.text for b in parsed.blocks))
    size_mib = len(scan.getvalue()) / 2**20
    recognised = len(found & wanted) / max(len(wanted), 1)
    print(f"OCR benchmark, {stamp()}")
    print(f"{len(images)} pages from {args.corpus} at {args.dpi} dpi, {size_mib:.1f} MiB")
    print(
        f"read by {settings.OCR_PROVIDER}, {settings.EMBEDDING_THREADS} pages at once, detection "
        f"side {settings.OCR_DETECTION_SIDE}, line height {settings.OCR_LINE_HEIGHT or 'by size'}, "
        f"angles {'on' if settings.OCR_ANGLES else 'off'}"
    )
    print(f"pages read by OCR: {len(parsed.ocr_pages)} in {seconds:.1f} s")
    print(f"  {len(images) / seconds:.2f} pages/s, {cpu / len(images):.2f} CPU s per page")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print(f"words (4+ letters) of the text layer recognised: {recognised:.1%}")
    print(f"peak memory: {peak_mib:.0f} MiB")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
