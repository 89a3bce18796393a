"""What the assistant says around an answer, in its own words: the notices above an answer, the
answers it writes without a model, and how an unfinished answer ended."""

from __future__ import annotations

NOTHING_MATCHES = (
    "Nothing in the documents you can read matches this question, so I won't guess. "
    "Try other words, or ask an admin to add a document that covers it."
)
MAY_NOT_COVER = (
    "These passages may not answer your question: the documents you can read don't seem to "
    "cover it. They are the closest matches."
)
STOPPED = "Stopped before the end."
CLOSED_EARLY = "The connection closed early."
INTERRUPTED = (
    "This answer was interrupted before its end (the server restarted or lost its database); "
    "here is what was written. Ask again for a complete answer."
)
NEVER_STARTED = "This answer was never started; ask again."


def may_not_cover(absent_names: list[str]) -> str:
    """The offline notice above doubtful passages, naming what the documents never mention."""
    if not absent_names:
        return MAY_NOT_COVER
    names = ", ".join(absent_names[:3])
    return (
        f"These passages may not answer your question: the documents you can read never "
        f"mention {names}. They are the closest matches."
    )[:300]


def quoting_instead(reason: str) -> str:
    """Every model failed before any text: the passages are quoted instead."""
    return f"{reason} Meanwhile, here are quotes from the most relevant passages (offline mode)."


def answered_by_fallback(fallback: str, model: str) -> str:
    return f"Answered by the fallback model {fallback}: {model} did not answer."
