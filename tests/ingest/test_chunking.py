from __future__ import annotations

from itertools import pairwise

from ingest.chunking import chunk_blocks
from ingest.parsers import Block
from ingest.tokens import count_tokens


def chunk(blocks, target=60, overlap=15, maximum=80):
    return chunk_blocks(blocks, target_tokens=target, overlap_tokens=overlap, max_tokens=maximum)


def test_chunks_break_at_headings_and_carry_their_heading_path_and_page():
    drafts = chunk(
        [
            Block("Install the package.", ("Setup",), page=1),
            Block("Edit the file.", ("Setup", "Config"), page=2),
        ]
    )

    assert [(d.heading_path, d.text, d.page_start) for d in drafts] == [
        ("Setup", "Install the package.", 1),
        ("Setup › Config", "Edit the file.", 2),
    ]


def test_no_chunk_exceeds_the_limit_and_consecutive_chunks_overlap():
    paragraphs = [
        Block(f"Paragraph {i} says something about vacuum and indexes.", ("H",)) for i in range(30)
    ]

    drafts = chunk(paragraphs)

    assert len(drafts) > 3
    assert all(count_tokens(d.text) <= 80 for d in drafts)
    for first, second in pairwise(drafts):
        assert first.text.split("\n\n")[-1] == second.text.split("\n\n")[0]


def test_a_huge_paragraph_is_cut_at_sentences():
    text = " ".join(f"Sentence number {i} is here." for i in range(100))

    drafts = chunk([Block(text)])

    assert all(d.token_count <= 80 for d in drafts)
    assert all(d.text.endswith(".") for d in drafts)
    assert "Sentence number 99 is here." in drafts[-1].text


def test_chinese_text_is_chunked_without_relying_on_spaces():
    text = "数据库会定期清理过期的行版本以回收空间" * 40

    drafts = chunk([Block(text, ("维护",))])

    assert len(drafts) > 1
    assert all(d.token_count <= 80 for d in drafts)
    assert "".join(d.text for d in drafts) == text
