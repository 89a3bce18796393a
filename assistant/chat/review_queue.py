"""The review queue: answers people rated "Not helpful", questions the documents did not cover,
and drafts the strong model answered again, each waiting until staff resolve it (a reviewed
answer, a content gap for a named document or collection, or dismissed with a reason)."""

from __future__ import annotations

from django.db.models import Exists, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from assistant.chat.models import Feedback, Message, Review, ReviewedAnswer

REASONS = {
    "not_helpful": _("Rated “Not helpful”"),
    "not_covered": _("Not covered by the documents"),
    "upgraded": _("Answered again by the stronger model"),
}
_WHY = {
    "not_helpful": Q(thumbs_down=True),
    "not_covered": Q(content_gap=True),
    "upgraded": Q(upgraded=True),
}


def items(reason: str | None = None, *, resolved: bool = False) -> QuerySet[Message]:
    """Answers in the queue (or, `resolved`, taken out of it), oldest first, each with its
    question, whether it was voted down, and the newest comment on it."""
    thumbs_down = Feedback.objects.filter(message=OuterRef("pk"), helpful=False)
    asked = Message.objects.filter(
        conversation=OuterRef("conversation"), pk__lt=OuterRef("pk"), role=Message.Role.USER
    ).order_by("-pk")
    answers = (
        Message.objects.filter(role=Message.Role.ASSISTANT, status__in=Message.FINISHED)
        .annotate(
            thumbs_down=Exists(thumbs_down),
            comment=Subquery(thumbs_down.exclude(comment="").order_by("-pk").values("comment")[:1]),
            question=Subquery(asked.values("text")[:1]),
            resolved=Exists(Review.objects.filter(message=OuterRef("pk"))),
        )
        .filter(
            _WHY[reason] if reason else Q(thumbs_down=True) | Q(content_gap=True) | Q(upgraded=True)
        )
        .filter(resolved=resolved)
    )
    return answers.select_related("conversation__owner").order_by("created_at", "pk")


def reasons_of(message: Message) -> list[str]:
    """Why an answer is in the queue, as labels."""
    why = [
        ("not_helpful", message.thumbs_down),
        ("not_covered", message.content_gap),
        ("upgraded", message.upgraded),
    ]
    return [str(REASONS[name]) for name, applies in why if applies]


def counts() -> dict:
    """What waits, per reason, and for how long the oldest has (the usage dashboard's)."""
    now = timezone.now()
    waiting = {name: items(name) for name in REASONS}
    oldest = items().aggregate(oldest=Min("created_at"))["oldest"]
    return {
        "total": items().count(),
        **{name: queryset.count() for name, queryset in waiting.items()},
        "oldest_days": (now - oldest).days if oldest else None,
        "flagged": ReviewedAnswer.objects.filter(needs_review=True).count(),
    }


def resolve(message: Message, *, by, resolution: str, note: str = "", **what) -> Review:
    """Take an answer out of the queue, saying how (once: resolving again replaces it)."""
    review, _created = Review.objects.update_or_create(
        message=message,
        defaults={"resolution": resolution, "note": note, "resolved_by": by, **what},
    )
    return review
