"""Parsing inside hard limits: a file past them fails with a reason that names the limit, and
the process that asked keeps its memory."""

from __future__ import annotations

import resource

import pytest

from ingest.formats import IngestError, ParseLimits
from ingest.isolation import parse_isolated
from tests.ingest import files

LIMITS = ParseLimits()


def test_a_file_parses_in_a_child_with_its_pages_and_title():
    parsed = parse_isolated(
        files.pdf(["First page.", "Second page."]),
        "a.pdf",
        limits=LIMITS,
        max_memory_mb=512,
        max_seconds=60,
    )

    assert parsed.title == "Handbook"
    assert [(b.page, b.text) for b in parsed.blocks] == [(1, "First page."), (2, "Second page.")]


def test_a_docx_that_needs_more_memory_than_allowed_fails_and_the_caller_keeps_its_own():
    bomb = files.docx_paragraph_bomb(expanded_mb=60)
    assert len(bomb) < 2**20, "small on disk, inside every size limit"
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    with pytest.raises(IngestError, match=r"more than 256 MB of memory \(PARSE_MAX_MEMORY_MB\)"):
        parse_isolated(bomb, "bomb.docx", limits=LIMITS, max_memory_mb=256, max_seconds=120)

    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown_kib < 32 * 1024


def test_a_parse_past_its_time_fails_naming_the_limit():
    # A thousandth of a second: no parse (not even the fork) is done by then.
    with pytest.raises(IngestError, match=r"more than 0 s \(PARSE_MAX_SECONDS\)"):
        parse_isolated(
            files.pdf(["page"] * 50),
            "long.pdf",
            limits=LIMITS,
            max_memory_mb=512,
            max_seconds=0.001,
        )


def test_the_text_kept_from_one_document_is_bounded():
    text = ("A sentence of plain words. " * 4000).encode()

    with pytest.raises(IngestError, match=r"PARSE_MAX_TEXT_MB"):
        parse_isolated(
            text,
            "long.txt",
            limits=ParseLimits(max_text_chars=50_000),
            max_memory_mb=512,
            max_seconds=60,
        )
