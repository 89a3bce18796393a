"""Whether a question leans on the one before it in a conversation.

Offline there is no model to rewrite a follow-up, so a follow-up is searched together with the
question before it, and anything else alone: gluing every question to the last one made
"配额用完了怎么办？" after a question about uploads retrieve the upload passages.
A question follows up when it opens as a continuation ("and on Windows?", "what about…",
"那第二步呢？"), or points back ("it", "这个") and names little of its own, or names almost
nothing at all ("why?").
"""

from __future__ import annotations

import re

from assistant.lib.text import CJK, WORD, words

_OPENERS = re.compile(
    r"^\s*(?:(?:and|but|or|so|then|also|plus|what about|how about|what if|same|why not|"
    r"ok(?:ay)?|else|otherwise)\b|那|还有|另外|然后|而且|如果是|同样)",
    re.IGNORECASE,
)
POINTERS = frozenset(
    [
        "it",
        "its",
        "it's",
        "that",
        "this",
        "these",
        "those",
        "them",
        "they",
        "their",
        "there",
        "one",
        "ones",
        "same",
        "above",
        "previous",
        "former",
        "latter",
        "such",
        "step",
        "steps",
    ]
)
ZH_POINTERS = (
    "它",
    "这个",
    "那个",
    "这些",
    "那些",
    "这样",
    "那样",
    "上面",
    "上述",
    "刚才",
    "前面",
    "第一步",
    "第二步",
    "第三步",
    "下一步",
    "上一步",
    "这一步",
    "呢",
)
# Words of a Chinese question that ask rather than name: they are not its topic.
ZH_FILLER = re.compile(
    r"怎么办|怎么样|怎么|如何|什么|为什么|哪些|哪个|是否|可以|能不能|吗|呢|吧|了|的|我|你|请问"
)


def is_follow_up(question: str) -> bool:
    text = question.strip()
    if _OPENERS.match(text):
        return True
    lower = text.lower()
    pointers = [w for w in WORD.findall(lower) if w in POINTERS]
    pointers += [p for p in ZH_POINTERS if p in text]
    chinese = "".join(CJK.findall(ZH_FILLER.sub("", _without(text, ZH_POINTERS))))
    substance = len(words(lower)) + len(chinese) // 2
    if substance <= 1:
        return True
    return bool(pointers) and substance <= 3


def _without(text: str, parts: tuple[str, ...]) -> str:
    for part in parts:
        text = text.replace(part, "")
    return text
