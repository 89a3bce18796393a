"""What the assistant says around an answer, in its own words: the notices above an answer, the
answers it writes without a model, and how an unfinished answer ended.

Each is written in the language active when the answer is written: the reader's, since answers
are written in their stream's request (the sweeper writes in the owner's saved language).
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

NOTHING_MATCHES = gettext_lazy(
    "Nothing in the documents you can read matches this question, so I won't guess. "
    "Try other words, or ask an admin to add a document that covers it."
)
MAY_NOT_COVER = gettext_lazy(
    "These passages may not answer your question: the documents you can read don't seem to "
    "cover it. They are the closest matches."
)
STOPPED = gettext_lazy("Stopped before the end.")
CLOSED_EARLY = gettext_lazy("The connection closed early.")
INTERRUPTED = gettext_lazy(
    "This answer was interrupted before its end (the server restarted or lost its database); "
    "here is what was written. Ask again for a complete answer."
)
NEVER_STARTED = gettext_lazy("This answer was never started; ask again.")


def may_not_cover(absent_names: list[str]) -> str:
    """The offline notice above doubtful passages, naming what the documents never mention."""
    if not absent_names:
        return str(MAY_NOT_COVER)
    # Translators: a list separator, between the names of things the documents never mention.
    names = _(", ").join(absent_names[:3])
    return (
        _(
            "These passages may not answer your question: the documents you can read never "
            "mention %(names)s. They are the closest matches."
        )
        % {"names": names}
    )[:300]


def quoting_instead(reason: str) -> str:
    """Every model failed before any text: the passages are quoted instead."""
    return _(
        "%(reason)s Meanwhile, here are quotes from the most relevant passages (offline mode)."
    ) % {"reason": reason}


def answered_by_fallback(fallback: str, model: str) -> str:
    return _("Answered by the fallback model %(fallback)s: %(model)s did not answer.") % {
        "fallback": fallback,
        "model": model,
    }
