"""Conversations, their messages, the citations an answer carries and the votes it gets."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from ingest.models import Chunk, Collection, Document, passage_url


class ConversationQuerySet(models.QuerySet):
    def owned_by(self, user) -> ConversationQuerySet:
        return self.filter(owner=user)

    def empty(self) -> ConversationQuerySet:
        return self.filter(messages__isnull=True)


class Conversation(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, blank=True)
    collections = models.ManyToManyField(
        Collection, blank=True, help_text="Empty means every collection you may read."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"


class MessageQuerySet(models.QuerySet):
    def answers_of(self, user) -> MessageQuerySet:
        """The assistant's answers in `user`'s own conversations."""
        return self.filter(conversation__owner=user, role=Message.Role.ASSISTANT)


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    class Status(models.TextChoices):
        CREATED = "created", "Waiting"
        RETRIEVING = "retrieving", "Searching…"
        GENERATING = "generating", "Writing…"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Stopped"
        # Its process died, or lost the database, mid-answer: the text so far is kept.
        INTERRUPTED = "interrupted", "Interrupted"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.INTERRUPTED)
    OPEN = (Status.CREATED, Status.RETRIEVING, Status.GENERATING)

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True, help_text="Sanitized rendering with citation links.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CREATED)
    # Renewed every few seconds while a stream writes the answer (with the text so far): a stale
    # one means its process is gone, and the sweeper closes the answer as interrupted.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    high_accuracy = models.BooleanField(default=False)
    standalone_question = models.TextField(blank=True)
    provider = models.CharField(max_length=40, blank=True)
    model = models.CharField(max_length=100, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    first_token_ms = models.PositiveIntegerField(null=True, blank=True)
    total_ms = models.PositiveIntegerField(null=True, blank=True)
    notice = models.CharField(max_length=300, blank=True)
    error = models.CharField(max_length=300, blank=True, help_text="Shown to the user.")
    content_gap = models.BooleanField(default=False)
    unknown_markers = models.PositiveSmallIntegerField(default=0)
    cache_key = models.CharField(max_length=64, blank=True, db_index=True)
    cached = models.BooleanField(default=False)
    stop_requested = models.BooleanField(default=False)
    # The quota reserved when the question was asked, settled to real usage once it ends.
    quota_day = models.DateField(null=True, blank=True)
    reserved_tokens = models.PositiveIntegerField(default=0)
    reserved_cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    quota_settled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.role}: {self.text[:60]}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class Citation(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="citations")
    n = models.PositiveSmallIntegerField()
    chunk = models.ForeignKey(Chunk, null=True, on_delete=models.SET_NULL, related_name="+")
    document = models.ForeignKey(Document, null=True, on_delete=models.SET_NULL, related_name="+")
    document_version = models.PositiveIntegerField(default=1)
    title = models.CharField(max_length=500, blank=True)
    source_path = models.CharField(max_length=1000, blank=True)
    heading_path = models.CharField(max_length=1000, blank=True)
    pages = models.CharField(max_length=40, blank=True)
    quote = models.TextField(blank=True)
    used = models.BooleanField(default=True, help_text="Cited in the answer, or only shown.")

    class Meta:
        ordering = ["n"]

    def __str__(self) -> str:
        return f"[{self.n}] {self.title}"

    @property
    def url(self) -> str:
        """The cited passage in its document; empty once the document is gone."""
        return passage_url(self.document_id, self.chunk_id) if self.document_id else ""


class Feedback(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    helpful = models.BooleanField()
    comment = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="one_vote")]

    def __str__(self) -> str:
        return f"{'👍' if self.helpful else '👎'} {self.message_id}"


class EvaluationRun(models.Model):
    """One run of `manage.py evaluate`: what was measured, with what, and the figures, so a
    prompt, model or retrieval change can be read against the runs before it."""

    class Kind(models.TextChoices):
        RETRIEVAL = "retrieval", "Retrieval"
        ANSWERS = "answers", "Answers"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    collection_name = models.CharField(max_length=200)
    questions_file = models.CharField(max_length=500)
    questions = models.PositiveIntegerField(default=0)
    provider = models.CharField(max_length=40, blank=True)
    model = models.CharField(max_length=100, blank=True)
    embedder = models.CharField(max_length=100)
    reranker = models.CharField(max_length=100, blank=True)
    figures = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.collection_name} at {self.created_at:%Y-%m-%d %H:%M}"
