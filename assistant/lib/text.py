"""The one tokenizer: words, stop words, CJK runs and bigrams, identifiers, token estimates.

The lexical index and every query, highlight and offline quote read text through these functions,
so the index side and the query side cannot drift apart.

Chinese, Japanese and Korean have no spaces, so PostgreSQL's English parser sees a whole sentence
as one word. Their character bigrams are indexed in a `simple` configuration instead, and the
query gets the same, so a two-character keyword matches inside unspaced text. Identifiers such as
`max_connections` or `pg_stat_activity` are also indexed whole, glued into one token
(`maxconnections`), because PostgreSQL's parser splits them at `_` and `.`: an exact identifier
then outranks its parts.
"""

from __future__ import annotations

import re

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")
IDENTIFIER = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:[_.][A-Za-z0-9]+)+\b|\b[A-Z]+[0-9]+[A-Z0-9]*\b")


# Words that carry no topic: function words, and the filler of questions phrased as a user would
# ask them ("how can I actually make it still ..."). Left out of term matching and highlighting:
# in a technical corpus such words are rare enough to get a high IDF and pull in passages that
# merely share the phrasing.
STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "actually",
        "after",
        "again",
        "all",
        "almost",
        "already",
        "also",
        "always",
        "an",
        "and",
        "any",
        "anyone",
        "anything",
        "anyway",
        "are",
        "around",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "best",
        "better",
        "both",
        "but",
        "by",
        "can",
        "cannot",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "done",
        "each",
        "easily",
        "easy",
        "either",
        "else",
        "enough",
        "even",
        "ever",
        "every",
        "everything",
        "exactly",
        "fine",
        "for",
        "from",
        "get",
        "gets",
        "getting",
        "give",
        "go",
        "goes",
        "going",
        "good",
        "got",
        "happen",
        "happens",
        "have",
        "having",
        "help",
        "here",
        "how",
        "however",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "keep",
        "keeps",
        "kind",
        "know",
        "least",
        "let",
        "like",
        "likely",
        "lot",
        "lots",
        "make",
        "makes",
        "making",
        "many",
        "may",
        "maybe",
        "me",
        "might",
        "more",
        "most",
        "much",
        "must",
        "my",
        "need",
        "needs",
        "now",
        "of",
        "often",
        "okay",
        "on",
        "only",
        "or",
        "other",
        "our",
        "out",
        "over",
        "own",
        "please",
        "possible",
        "pretty",
        "probably",
        "put",
        "quite",
        "rather",
        "really",
        "say",
        "see",
        "seem",
        "seems",
        "should",
        "simply",
        "since",
        "so",
        "some",
        "someone",
        "something",
        "somehow",
        "sometimes",
        "soon",
        "sort",
        "still",
        "such",
        "sure",
        "take",
        "tell",
        "than",
        "thank",
        "thanks",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "thing",
        "things",
        "think",
        "this",
        "those",
        "though",
        "through",
        "to",
        "tried",
        "try",
        "trying",
        "use",
        "used",
        "using",
        "usually",
        "very",
        "want",
        "wanted",
        "wants",
        "way",
        "ways",
        "we",
        "well",
        "what",
        "whatever",
        "when",
        "where",
        "whether",
        "which",
        "while",
        "who",
        "whole",
        "why",
        "will",
        "wish",
        "with",
        "would",
        "yet",
        "you",
        "your",
    ]
)


def words(text: str) -> list[str]:
    """Lower-cased words that carry a topic (stop words left out); CJK runs are not words."""
    return [w for w in WORD.findall(text.lower()) if w not in STOP_WORDS]


def cjk_bigrams(text: str) -> list[str]:
    """Character pairs of every CJK run (a run of one character stands for itself)."""
    grams = []
    for run in CJK.findall(text):
        if len(run) == 1:
            grams.append(run)
        grams.extend(run[i : i + 2] for i in range(len(run) - 1))
    return grams


def terms(text: str) -> set[str]:
    """Words and CJK bigrams: what two texts must share to be about the same thing."""
    return {*words(text), *cjk_bigrams(text)}


def identifiers(text: str) -> list[str]:
    return [re.sub(r"[_.]", "", match.lower()) for match in IDENTIFIER.findall(text)]


def simple_terms(text: str) -> list[str]:
    """The terms indexed (and queried) in the `simple` configuration: CJK bigrams and glued
    identifiers, in order, once each."""
    return list(dict.fromkeys([*cjk_bigrams(text), *identifiers(text)]))


def extra_terms(text: str) -> str:
    """The `search_extra` column a chunk is indexed with: its `simple_terms`, space-separated."""
    return " ".join(simple_terms(text))


def topic_words(text: str) -> str:
    """The text with its stop words blanked out, CJK runs too (they are matched as bigrams)."""
    text = CJK.sub(" ", text)
    return WORD.sub(lambda m: " " if m.group(0).lower() in STOP_WORDS else m.group(0), text)


def mostly_cjk(text: str) -> bool:
    """True when CJK characters are most of the text's letters."""
    cjk = sum(len(run) for run in CJK.findall(text))
    return cjk > 0 and cjk >= len(WORD.findall(text)) * 2


def estimate_tokens(text: str) -> int:
    """A rough count for servers that report no usage: ~4 characters a token, CJK 1 each."""
    cjk = sum(len(run) for run in CJK.findall(text))
    return cjk + (len(text) - cjk + 3) // 4
