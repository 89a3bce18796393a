"""Conversations, their messages, the citations an answer carries and the votes it gets."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ingest.models import Chunk, Collection, Document, passage_url


class ConversationQuerySet(models.QuerySet):
    def owned_by(self, user) -> ConversationQuerySet:
        return self.filter(owner=user)

    def empty(self) -> ConversationQuerySet:
        return self.filter(messages__isnull=True)


class Conversation(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="conversations",
        verbose_name=_("owner"),
    )
    title = models.CharField(max_length=200, blank=True, verbose_name=_("title"))
    collections = models.ManyToManyField(
        Collection,
        blank=True,
        help_text=_("Empty means every collection you may read."),
        verbose_name=_("collections"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    objects = ConversationQuerySet.as_manager()

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.title or gettext("Conversation %(n)s") % {"n": self.pk}


class MessageQuerySet(models.QuerySet):
    def answers_of(self, user) -> MessageQuerySet:
        """The assistant's answers in `user`'s own conversations."""
        return self.filter(conversation__owner=user, role=Message.Role.ASSISTANT)


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", _("User")
        ASSISTANT = "assistant", _("Assistant")

    class Status(models.TextChoices):
        CREATED = "created", _("Waiting")
        RETRIEVING = "retrieving", _("Searching…")
        GENERATING = "generating", _("Writing…")
        UPGRADING = "upgrading", _("Checking with a stronger model…")
        SUCCEEDED = "succeeded", _("Done")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Stopped")
        # Its process died, or lost the database, mid-answer: the text so far is kept.
        INTERRUPTED = "interrupted", _("Interrupted")

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.INTERRUPTED)
    OPEN = (Status.CREATED, Status.RETRIEVING, Status.GENERATING, Status.UPGRADING)

    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        related_name="messages",
        verbose_name=_("conversation"),
    )
    role = models.CharField(max_length=10, choices=Role.choices, verbose_name=_("role"))
    text = models.TextField(blank=True, verbose_name=_("text"))
    html = models.TextField(
        blank=True, help_text=_("Sanitized rendering with citation links."), verbose_name=_("html")
    )
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.CREATED, verbose_name=_("status")
    )
    # Renewed every few seconds while a stream writes the answer (with the text so far): a stale
    # one means its process is gone, and the sweeper closes the answer as interrupted.
    heartbeat_at = models.DateTimeField(null=True, blank=True, verbose_name=_("heartbeat at"))
    high_accuracy = models.BooleanField(default=False, verbose_name=_("high accuracy"))
    standalone_question = models.TextField(blank=True, verbose_name=_("standalone question"))
    provider = models.CharField(max_length=40, blank=True, verbose_name=_("provider"))
    model = models.CharField(max_length=100, blank=True, verbose_name=_("model"))
    prompt_tokens = models.PositiveIntegerField(default=0, verbose_name=_("prompt tokens"))
    completion_tokens = models.PositiveIntegerField(default=0, verbose_name=_("completion tokens"))
    cost_usd = models.DecimalField(
        max_digits=12, decimal_places=6, default=0, verbose_name=_("cost (USD)")
    )
    first_token_ms = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("first token (ms)")
    )
    total_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("total time (ms)"))
    notice = models.CharField(max_length=300, blank=True, verbose_name=_("notice"))
    error = models.CharField(
        max_length=300, blank=True, help_text=_("Shown to the user."), verbose_name=_("error")
    )
    content_gap = models.BooleanField(default=False, verbose_name=_("content gap"))
    unknown_markers = models.PositiveSmallIntegerField(default=0, verbose_name=_("unknown markers"))
    cache_key = models.CharField(
        max_length=64, blank=True, db_index=True, verbose_name=_("cache key")
    )
    cached = models.BooleanField(default=False, verbose_name=_("cached"))
    # Draft -> final: a low-confidence draft answered again by the strong model; the draft is
    # kept for the review queue, the reader sees the final answer only.
    upgraded = models.BooleanField(default=False, verbose_name=_("upgraded"))
    draft_text = models.TextField(blank=True, verbose_name=_("draft"))
    # Served from a reviewed answer; False on "ask the documents instead".
    reviewed_answer = models.ForeignKey(
        "ReviewedAnswer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="served",
        verbose_name=_("reviewed answer"),
    )
    use_reviewed = models.BooleanField(default=True, verbose_name=_("use reviewed answers"))
    stop_requested = models.BooleanField(default=False, verbose_name=_("stop requested"))
    # The quota reserved when the question was asked, settled to real usage once it ends.
    quota_day = models.DateField(null=True, blank=True, verbose_name=_("quota day"))
    reserved_tokens = models.PositiveIntegerField(default=0, verbose_name=_("reserved tokens"))
    reserved_cost_usd = models.DecimalField(
        max_digits=12, decimal_places=6, default=0, verbose_name=_("reserved cost (USD)")
    )
    quota_settled = models.BooleanField(default=True, verbose_name=_("quota settled"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.text[:60]}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class Citation(models.Model):
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="citations", verbose_name=_("message")
    )
    n = models.PositiveSmallIntegerField(verbose_name=_("n"))
    chunk = models.ForeignKey(
        Chunk, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("chunk")
    )
    document = models.ForeignKey(
        Document, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("document")
    )
    document_version = models.PositiveIntegerField(default=1, verbose_name=_("document version"))
    title = models.CharField(max_length=500, blank=True, verbose_name=_("title"))
    source_path = models.CharField(max_length=1000, blank=True, verbose_name=_("source path"))
    heading_path = models.CharField(max_length=1000, blank=True, verbose_name=_("heading path"))
    pages = models.CharField(max_length=40, blank=True, verbose_name=_("pages"))
    quote = models.TextField(blank=True, verbose_name=_("quote"))
    used = models.BooleanField(
        default=True, help_text=_("Cited in the answer, or only shown."), verbose_name=_("used")
    )

    class Meta:
        verbose_name = _("citation")
        verbose_name_plural = _("citations")
        ordering = ["n"]

    def __str__(self) -> str:
        return f"[{self.n}] {self.title}"

    @property
    def url(self) -> str:
        """The cited passage in its document; empty once the document is gone."""
        return passage_url(self.document_id, self.chunk_id) if self.document_id else ""


class Feedback(models.Model):
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="feedback", verbose_name=_("message")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, verbose_name=_("user")
    )
    helpful = models.BooleanField(verbose_name=_("helpful"))
    comment = models.TextField(blank=True, max_length=2000, verbose_name=_("comment"))
    created_at = models.DateTimeField(auto_now=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="one_vote")]

    def __str__(self) -> str:
        return f"{'👍' if self.helpful else '👎'} {self.message_id}"


class EvaluationRun(models.Model):
    """One run of `manage.py evaluate`: what was measured, with what, and the figures, so a
    prompt, model or retrieval change can be read against the runs before it."""

    class Kind(models.TextChoices):
        RETRIEVAL = "retrieval", _("Retrieval")
        ANSWERS = "answers", _("Answers")

    kind = models.CharField(max_length=10, choices=Kind.choices, verbose_name=_("kind"))
    collection_name = models.CharField(max_length=200, verbose_name=_("collection name"))
    questions_file = models.CharField(max_length=500, verbose_name=_("questions file"))
    questions = models.PositiveIntegerField(default=0, verbose_name=_("questions"))
    provider = models.CharField(max_length=40, blank=True, verbose_name=_("provider"))
    model = models.CharField(max_length=100, blank=True, verbose_name=_("model"))
    embedder = models.CharField(max_length=100, verbose_name=_("embedder"))
    reranker = models.CharField(max_length=100, blank=True, verbose_name=_("reranker"))
    figures = models.JSONField(default=dict, verbose_name=_("figures"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("evaluation run")
        verbose_name_plural = _("evaluation runs")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return gettext("%(kind)s on %(collection)s at %(when)s") % {
            "kind": self.get_kind_display(),
            "collection": self.collection_name,
            "when": f"{self.created_at:%Y-%m-%d %H:%M}",
        }


class ReviewedAnswerQuerySet(models.QuerySet):
    def servable(self) -> ReviewedAnswerQuerySet:
        """Not waiting for review (a cited document changed or went)."""
        return self.filter(needs_review=False)

    def readable_by(self, user) -> ReviewedAnswerQuerySet:
        """Those whose every collection `user` may read (one unreadable collection hides it)."""
        readable = Collection.objects.readable_by(user).values("pk")
        return self.exclude(collections__in=Collection.objects.exclude(pk__in=readable))

    def flag_changed(self) -> int:
        """Mark for review those citing a document that changed, went or was deleted since the
        review: they are not served until someone confirms them. Returns how many."""
        changed = ReviewedCitation.objects.filter(
            models.Q(document__isnull=True)
            | ~models.Q(document__status=Document.Status.READY)
            | ~models.Q(document__version=models.F("document_version"))
        )
        return self.filter(needs_review=False, citations__in=changed).update(
            needs_review=True, review_reason=gettext("A cited document changed or was removed.")
        )


class ReviewedAnswer(models.Model):
    """An answer support staff wrote or corrected: served first to a question that means the
    same (by meaning, across languages), within the reader's collections."""

    question = models.TextField(verbose_name=_("question"))
    answer = models.TextField(
        help_text=_("Markdown; [1], [2]… point to the citations in their order."),
        verbose_name=_("answer"),
    )
    variants = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Other ways to ask it, in English and Chinese."),
        verbose_name=_("question variants"),
    )
    collections = models.ManyToManyField(
        Collection,
        related_name="+",
        help_text=_("Shown only to people who may read every one of these."),
        verbose_name=_("collections"),
    )
    # One vector per phrasing (the question, then each variant), in the embedder's space.
    vectors = models.JSONField(default=list, blank=True, editable=False)
    embedder = models.CharField(max_length=100, blank=True, editable=False)
    source_message = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("answer it corrects"),
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(verbose_name=_("reviewed at"))
    needs_review = models.BooleanField(default=False, verbose_name=_("needs review"))
    review_reason = models.CharField(max_length=300, blank=True, verbose_name=_("why"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    objects = ReviewedAnswerQuerySet.as_manager()

    class Meta:
        verbose_name = _("reviewed answer")
        verbose_name_plural = _("reviewed answers")
        ordering = ["-reviewed_at", "-pk"]

    def __str__(self) -> str:
        return self.question[:80]

    @property
    def phrasings(self) -> list[str]:
        return [self.question, *self.variants]


class ReviewedCitation(models.Model):
    reviewed_answer = models.ForeignKey(
        ReviewedAnswer, on_delete=models.CASCADE, related_name="citations"
    )
    n = models.PositiveSmallIntegerField(verbose_name=_("n"))
    document = models.ForeignKey(
        Document, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("document")
    )
    # The version reviewed: another one (or none) means the answer waits for review.
    document_version = models.PositiveIntegerField(verbose_name=_("document version"))
    page = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("page"))
    title = models.CharField(max_length=500, blank=True, verbose_name=_("title"))

    class Meta:
        verbose_name = _("reviewed citation")
        verbose_name_plural = _("reviewed citations")
        ordering = ["n"]

    def __str__(self) -> str:
        return f"[{self.n}] {self.title}"


class Review(models.Model):
    """How staff resolved an answer in the review queue (one per answer)."""

    class Resolution(models.TextChoices):
        ANSWERED = "answered", _("Reviewed answer written")
        CONTENT_GAP = "content_gap", _("Content gap")
        DISMISSED = "dismissed", _("Dismissed")

    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, related_name="review", verbose_name=_("answer")
    )
    resolution = models.CharField(
        max_length=12, choices=Resolution.choices, verbose_name=_("resolution")
    )
    note = models.CharField(max_length=500, blank=True, verbose_name=_("reason"))
    reviewed_answer = models.ForeignKey(
        ReviewedAnswer,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reviewed answer"),
    )
    # A content gap names what is missing: a document to extend or a collection to add to.
    document = models.ForeignKey(
        Document,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("document"),
    )
    collection = models.ForeignKey(
        Collection,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("collection"),
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(auto_now_add=True, verbose_name=_("resolved at"))

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")

    def __str__(self) -> str:
        return f"{self.get_resolution_display()}: {self.message_id}"
