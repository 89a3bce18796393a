from __future__ import annotations

from assistant.lib.text import topic_words


def test_topic_words_drop_question_filler_and_cjk_but_keep_identifiers():
    words = topic_words("How can I still make max_connections bigger? 连接池").split()

    assert words == ["max_connections", "bigger?"]
