"""Text a reader cannot see: is anything visible left?"""

from __future__ import annotations

import unicodedata

# Letters and symbols that render as nothing: the Hangul fillers, the braille blank, the combining
# grapheme joiner, the Mongolian vowel separator.
_BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f\u180e")
# Control and format characters: BEL and backspace, zero-width spaces and joiners, the byte order
# mark, the soft hyphen, the bidirectional overrides.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf"})


def has_visible(text: str) -> bool:
    """Does `text` hold one character that shows, white space not counted?"""
    return any(
        not char.isspace()
        and char not in _BLANK_LOOKING
        and unicodedata.category(char) not in _INVISIBLE_CATEGORIES
        for char in text
    )
