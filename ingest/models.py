from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _
from pgvector.django import HnswIndex, VectorField


def format_pages(start: int | None, end: int | None) -> str:
    if start is None:
        return ""
    if end in (None, start):
        return pgettext("pages", "p. %(page)s") % {"page": start}
    return pgettext("pages", "pp. %(start)s–%(end)s") % {"start": start, "end": end}


def passage_url(document_id: int, chunk_id: int | None) -> str:
    """A document opened at one of its passages, highlighted and scrolled to."""
    url = reverse("source", args=[document_id])
    return url if chunk_id is None else f"{url}?chunk={chunk_id}#chunk-{chunk_id}"


class CollectionQuerySet(models.QuerySet):
    def readable_by(self, user) -> CollectionQuerySet:
        """Collections a user may read: public ones, shared with them or one of their groups."""
        if getattr(user, "is_superuser", False):
            return self.all()
        if not getattr(user, "is_authenticated", False):
            return self.filter(is_public=True)
        return self.filter(
            Q(is_public=True) | Q(reader_users=user) | Q(reader_groups__user=user)
        ).distinct()


class Collection(models.Model):
    class Language(models.TextChoices):
        AUTO = "auto", _("Mixed / detect")
        ENGLISH = "en", _("English")
        CHINESE = "zh", _("Chinese")

    name = models.CharField(max_length=200, unique=True, verbose_name=_("name"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    language = models.CharField(
        max_length=8, choices=Language.choices, default=Language.AUTO, verbose_name=_("language")
    )
    is_public = models.BooleanField(
        default=False,
        help_text=_("Everyone with an account may read it, and visitors too."),
        verbose_name=_("is public"),
    )
    reader_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="readable_collections",
        verbose_name=_("reader users"),
    )
    reader_groups = models.ManyToManyField(
        Group, blank=True, related_name="readable_collections", verbose_name=_("reader groups")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    objects = CollectionQuerySet.as_manager()

    class Meta:
        verbose_name = _("collection")
        verbose_name_plural = _("collections")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def document_upload_path(document: Document, filename: str) -> str:
    # Content-addressed: the same bytes are stored once.
    return f"documents/{document.sha256[:2]}/{document.sha256}"


class DocumentQuerySet(models.QuerySet):
    def readable_by(self, user) -> DocumentQuerySet:
        """Documents in the collections a user may read (Collection.objects.readable_by)."""
        return self.filter(collection__in=Collection.objects.readable_by(user))

    def count_by_status(self) -> dict[str, int]:
        return dict(self.order_by().values_list("status").annotate(n=models.Count("pk")))

    def queue_again(self, *, stage: str) -> int:
        """Put these documents back in the queue, unclaimed, the stage saying why: the caller's
        filter is the guard (the claim it holds, a lease that ran out). Returns the row count."""
        return self.update(
            status=self.model.Status.QUEUED, claim=None, lease_expires_at=None, stage=stage
        )

    def remove_from_search(self, reason: str) -> int:
        """Gone at their source: their passages leave search (answers that quoted them keep the
        quotes), the rows stay as the record. A run still working on one loses its claim, so
        no passage comes back. Returns the row count."""
        Chunk.objects.filter(document__in=self).delete()
        return self.update(
            status=self.model.Status.REMOVED,
            stage="",
            claim=None,
            lease_expires_at=None,
            failure_reason=reason,
        )


class Document(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        PROCESSING = "processing", _("Processing")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")
        SUPERSEDED = "superseded", _("Replaced by a newer version")
        REMOVED = "removed", _("Removed at its source")

    class Stage(models.TextChoices):
        """Where a document's run is, for the admin's progress column (the values are stored)."""

        NONE = "", "—"
        STARTING = "starting", _("starting")
        PARSED = "parsed", _("parsed")
        CHUNKED = "chunked", _("chunked")
        EMBEDDING = "embedding", _("embedding")
        WAITING = "waiting for the embedding service", _("waiting for the embedding service")
        REQUEUED = "requeued: its worker stopped", _("requeued: its worker stopped")

    collection = models.ForeignKey(
        Collection, on_delete=models.CASCADE, related_name="documents", verbose_name=_("collection")
    )
    title = models.CharField(max_length=500, blank=True, verbose_name=_("title"))
    source_path = models.CharField(
        max_length=1000,
        help_text=_("The path relative to the folder ingested, or the file name."),
        verbose_name=_("source path"),
    )
    media_type = models.CharField(max_length=100, blank=True, verbose_name=_("media type"))
    sha256 = models.CharField(max_length=64, db_index=True, verbose_name=_("sha256"))
    size_bytes = models.BigIntegerField(default=0, verbose_name=_("size (bytes)"))
    file = models.FileField(
        upload_to=document_upload_path, max_length=500, blank=True, verbose_name=_("file")
    )
    version = models.PositiveIntegerField(default=1, verbose_name=_("version"))
    replaces = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replaced_by",
        verbose_name=_("replaces"),
    )
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.QUEUED, verbose_name=_("status")
    )
    stage = models.CharField(
        max_length=40, choices=Stage.choices, blank=True, verbose_name=_("stage")
    )
    progress = models.PositiveSmallIntegerField(
        default=0, help_text=_("Percent done."), verbose_name=_("progress")
    )
    parsed_blocks = models.PositiveIntegerField(default=0, verbose_name=_("parsed blocks"))
    chunk_count = models.PositiveIntegerField(default=0, verbose_name=_("chunk count"))
    embedded_count = models.PositiveIntegerField(default=0, verbose_name=_("embedded count"))
    page_count = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("page count"))
    ocr_pages = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Pages whose text was recognised from an image."),
        verbose_name=_("ocr pages"),
    )
    failure_reason = models.TextField(blank=True, verbose_name=_("failure reason"))
    # Its uploader's language when they uploaded it (their saved choice, else their browser's):
    # a worker writes the failure reason later, with no reader to ask, in this one.
    language = models.CharField(
        max_length=10,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("The language its failure reason is written in: its uploader's."),
        verbose_name=_("language"),
    )
    timings = models.JSONField(
        default=dict, blank=True, help_text=_("Seconds per stage."), verbose_name=_("timings")
    )
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    claim = models.UUIDField(null=True, blank=True, verbose_name=_("claim"))
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("lease expires at")
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name=_("uploaded by"),
    )
    # Set when a source (a website, a folder) brought it in: its URL or path and freshness.
    source_item = models.ForeignKey(
        "SourceItem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="documents",
        verbose_name=_("source item"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    ready_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ready at"))

    objects = DocumentQuerySet.as_manager()

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["collection", "source_path"]),
            models.Index(fields=["status", "lease_expires_at"]),
        ]

    def __str__(self) -> str:
        return self.title or self.source_path

    @property
    def is_finished(self) -> bool:
        return self.status in {
            self.Status.READY,
            self.Status.FAILED,
            self.Status.SUPERSEDED,
            self.Status.REMOVED,
        }

    @property
    def stage_now(self) -> str:
        """The stage as it really is: a run whose lease ran out has no worker any more."""
        lapsed = self.lease_expires_at is not None and self.lease_expires_at < timezone.now()
        if self.status == self.Status.PROCESSING and lapsed:
            return gettext("its worker stopped; waiting to be retried")
        return self.get_stage_display() if self.stage else ""

    def claim_for_processing(self, *, lease_s: int) -> uuid.UUID | None:
        """Take the document for one run: a conditional UPDATE, so only one worker wins.

        A QUEUED document, or a PROCESSING one whose lease ran out (its worker died), can be
        claimed. Returns the claim token, or None when someone else holds it or it is done.
        """
        token = uuid.uuid4()
        now = timezone.now()
        won = (
            Document.objects.filter(pk=self.pk)
            .filter(
                Q(status=self.Status.QUEUED)
                | Q(status=self.Status.PROCESSING, lease_expires_at__lt=now)
            )
            .update(
                status=self.Status.PROCESSING,
                claim=token,
                lease_expires_at=now + timedelta(seconds=lease_s),
                attempts=models.F("attempts") + 1,
                stage=self.Stage.STARTING,
                failure_reason="",
            )
        )
        return token if won else None

    def report(self, claim: uuid.UUID, *, lease_s: int, **progress) -> bool:
        """Save progress and renew the lease while we still hold the claim."""
        return bool(
            Document.objects.filter(pk=self.pk, claim=claim, status=self.Status.PROCESSING).update(
                lease_expires_at=timezone.now() + timedelta(seconds=lease_s), **progress
            )
        )

    def mark_failed(self, reason: str, *, claim: uuid.UUID | None = None) -> None:
        rows = Document.objects.filter(pk=self.pk)
        if claim is not None:
            rows = rows.filter(claim=claim)
        rows.update(
            status=self.Status.FAILED,
            failure_reason=reason,
            stage=self.Stage.NONE,
            claim=None,
            lease_expires_at=None,
        )

    def requeue(self) -> bool:
        """Admin's retry: a failed document goes back in the queue."""
        return bool(
            Document.objects.filter(pk=self.pk, status=self.Status.FAILED).update(
                status=self.Status.QUEUED, failure_reason="", progress=0, stage=self.Stage.NONE
            )
        )


class Chunk(models.Model):
    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="chunks", verbose_name=_("document")
    )
    # Copied from the document so retrieval filters by access on the table it scans.
    collection = models.ForeignKey(
        Collection, on_delete=models.CASCADE, related_name="+", verbose_name=_("collection")
    )
    ordinal = models.PositiveIntegerField(verbose_name=_("ordinal"))
    text = models.TextField(verbose_name=_("text"))
    heading_path = models.CharField(max_length=1000, blank=True, verbose_name=_("heading path"))
    page_start = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("page start"))
    page_end = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("page end"))
    token_count = models.PositiveIntegerField(default=0, verbose_name=_("token count"))
    # Words the English configuration would mangle or miss: CJK character bigrams, identifiers.
    search_extra = models.TextField(blank=True, verbose_name=_("search extra"))
    embedding = VectorField(dimensions=settings.EMBEDDING_DIMENSIONS, null=True)
    # The English leg's vector (all-MiniLM-L6-v2); empty for mostly-CJK passages.
    embedding_en = VectorField(dimensions=384, null=True)
    # Waiting for its English vector: written after the document is READY (ingest.backfill).
    # A default in the database too: rows written by COPY (the benchmarks) wait for nothing.
    embedding_en_pending = models.BooleanField(
        default=False, db_default=False, verbose_name=_("Waiting for the English leg")
    )
    search_vector = models.GeneratedField(
        expression=(
            SearchVector("heading_path", config="english", weight="A")
            + SearchVector("text", config="english", weight="B")
            + SearchVector("search_extra", config="simple", weight="B")
        ),
        output_field=SearchVectorField(),
        db_persist=True,
        verbose_name=_("search vector"),
    )

    class Meta:
        verbose_name = _("passage")
        verbose_name_plural = _("passages")
        ordering = ["document", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["document", "ordinal"], name="chunk_ordinal_unique")
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="chunk_search_gin"),
            HnswIndex(
                name="chunk_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            HnswIndex(
                name="chunk_embedding_en_hnsw",
                fields=["embedding_en"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            # The backfill's queue: small once it is done, read oldest document first.
            models.Index(
                fields=["document", "id"],
                condition=Q(embedding_en_pending=True),
                name="chunk_en_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document} #{self.ordinal}"

    @property
    def pages(self) -> str:
        return format_pages(self.page_start, self.page_end)


class Lexeme(models.Model):
    """How many chunks contain each lexeme: the IDF of BM25 ranking.

    Kept exact by statement triggers on ingest_chunk (see migration 0003), so every way of
    adding or deleting chunks, cascades included, updates it in the same transaction.
    """

    lexeme = models.TextField(primary_key=True, verbose_name=_("lexeme"))
    df = models.IntegerField(default=0, verbose_name=_("df"))

    class Meta:
        verbose_name = _("lexeme")
        verbose_name_plural = _("lexemes")

    def __str__(self) -> str:
        return f"{self.lexeme} ({self.df})"


class LexicalTotals(models.Model):
    """One row: the number of chunks and their summed length, for BM25's length normalisation."""

    chunks = models.BigIntegerField(default=0, verbose_name=_("chunks"))
    length = models.BigIntegerField(default=0, verbose_name=_("length"))

    class Meta:
        verbose_name = _("lexical totals")
        verbose_name_plural = _("lexical totals")

    def __str__(self) -> str:
        return f"{self.chunks} chunks"


class EmbeddingSpace(models.Model):
    """The one vector space this deployment's chunks live in (a single row)."""

    model = models.CharField(max_length=200, verbose_name=_("model"))
    dimensions = models.PositiveIntegerField(verbose_name=_("dimensions"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("embedding space")
        verbose_name_plural = _("embedding spaces")

    def __str__(self) -> str:
        return f"{self.model} ({self.dimensions})"


class Source(models.Model):
    """A website or a folder that a collection follows: synced on a schedule and on demand; its
    documents are known by URL or path (SourceItem)."""

    class Kind(models.TextChoices):
        WEBSITE = "website", _("Website")
        FOLDER = "folder", _("Folder")

    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    collection = models.ForeignKey(
        Collection, on_delete=models.CASCADE, related_name="sources", verbose_name=_("collection")
    )
    start_urls = models.JSONField(
        _("start URLs"), default=list, blank=True, help_text=_("Pages the crawl starts from.")
    )
    sitemap_url = models.URLField(
        _("sitemap"), max_length=2000, blank=True, help_text=_("A sitemap or sitemap index.")
    )
    allowed_hosts = models.JSONField(
        _("allowed hosts"),
        default=list,
        blank=True,
        help_text=_("Hosts the crawl may visit; empty: the hosts of the start URLs and sitemap."),
    )
    path_prefixes = models.JSONField(
        _("path prefixes"),
        default=list,
        blank=True,
        help_text=_("URL paths the crawl stays under; empty: the start URLs' folders."),
    )
    path = models.CharField(
        _("folder"), max_length=1000, blank=True, help_text=_("A directory on the server.")
    )
    max_pages = models.PositiveIntegerField(_("page limit"), default=1000)
    max_depth = models.PositiveSmallIntegerField(
        _("depth limit"), default=5, help_text=_("Links followed from a start page or sitemap.")
    )
    max_page_mb = models.PositiveIntegerField(_("MB per page"), default=20)
    delay_s = models.FloatField(
        _("politeness delay (s)"),
        default=1.0,
        help_text=_("Seconds between two requests to one host (robots.txt may ask for more)."),
    )
    every = models.DurationField(
        _("sync every"), default=timedelta(days=1), help_text=_("For example 1 day or 01:00:00.")
    )
    enabled = models.BooleanField(_("scheduled"), default=True)
    next_sync_at = models.DateTimeField(_("next sync"), null=True, blank=True)
    # The lock: one sync of a source at a time; a lease that runs out frees a crashed one.
    sync_claim = models.UUIDField(null=True, blank=True, editable=False)
    sync_lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("source")
        verbose_name_plural = _("sources")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind == self.Kind.WEBSITE:
            urls = [*self.start_urls, self.sitemap_url] if self.sitemap_url else self.start_urls
            if not urls:
                raise ValidationError(_("A website needs a start URL or a sitemap."))
            if not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls):
                raise ValidationError(_("Start URLs and the sitemap must be http(s) URLs."))
        elif not self.path.startswith("/"):
            raise ValidationError(_("A folder must be an absolute path on the server."))

    @property
    def location(self) -> str:
        if self.kind == self.Kind.FOLDER:
            return self.path
        return ", ".join(filter(None, [*self.start_urls, self.sitemap_url]))

    @property
    def last_sync(self) -> SourceSync | None:
        return self.syncs.order_by("-started_at").first()

    def claim_sync(self, *, lease_s: int) -> uuid.UUID | None:
        """Take the source's lock for one sync: a conditional UPDATE, so only one run wins; a
        lock whose lease ran out (its worker died) can be taken over."""
        token = uuid.uuid4()
        now = timezone.now()
        won = (
            Source.objects.filter(pk=self.pk)
            .filter(Q(sync_claim__isnull=True) | Q(sync_lease_expires_at__lt=now))
            .update(sync_claim=token, sync_lease_expires_at=now + timedelta(seconds=lease_s))
        )
        return token if won else None

    def renew_sync(self, claim: uuid.UUID, *, lease_s: int) -> bool:
        return bool(
            Source.objects.filter(pk=self.pk, sync_claim=claim).update(
                sync_lease_expires_at=timezone.now() + timedelta(seconds=lease_s)
            )
        )

    def release_sync(self, claim: uuid.UUID, *, started_at) -> None:
        Source.objects.filter(pk=self.pk, sync_claim=claim).update(
            sync_claim=None, sync_lease_expires_at=None, next_sync_at=started_at + self.every
        )

    @property
    def is_syncing(self) -> bool:
        lease = self.sync_lease_expires_at
        return self.sync_claim is not None and lease is not None and lease > timezone.now()


class SourceSync(models.Model):
    """One run of a source's sync, with what it found."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        INTERRUPTED = "interrupted", _("Interrupted: its worker stopped")

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="syncs")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    claim = models.UUIDField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    seen = models.PositiveIntegerField(_("seen"), default=0)
    added = models.PositiveIntegerField(_("added"), default=0)
    changed = models.PositiveIntegerField(_("changed"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    removed = models.PositiveIntegerField(_("removed"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    complete = models.BooleanField(
        default=False, help_text=_("The whole source was read, so what it lacked was removed.")
    )
    failure_reason = models.TextField(blank=True)
    document_ids = models.JSONField(
        default=list, blank=True, help_text=_("Documents this sync queued.")
    )

    COUNTS = ("seen", "added", "changed", "unchanged", "removed", "failed", "skipped")

    class Meta:
        verbose_name = _("source sync")
        verbose_name_plural = _("source syncs")
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"{self.source} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNTS}

    @property
    def failures(self) -> models.QuerySet[SourceItem]:
        return self.source.items.filter(last_sync=self, state=SourceItem.State.FAILED)


class SourceItem(models.Model):
    """One page or file of a source, known by its URL or path, with what the last sync saw."""

    class State(models.TextChoices):
        PRESENT = "present", _("Present")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")
        REMOVED = "removed", _("Removed")

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="items")
    key = models.CharField(max_length=2000, help_text=_("The URL, or the path in the folder."))
    state = models.CharField(max_length=10, choices=State.choices, default=State.PRESENT)
    document = models.ForeignKey(
        Document, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True, help_text=_("Why it failed, was skipped or removed."))
    # What makes a re-sync cheap: the validators for a conditional GET, the bytes' hash, a
    # file's size and mtime, and the links the page held (a 304 has no body to read them from).
    etag = models.CharField(max_length=500, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    mtime_ns = models.BigIntegerField(null=True, blank=True)
    links = models.JSONField(default=list, blank=True)
    redirects = models.JSONField(default=list, blank=True, help_text=_("URLs that led here."))
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    depth = models.PositiveSmallIntegerField(default=0)
    last_sync = models.ForeignKey(
        SourceSync, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_seen_at = models.DateTimeField(auto_now_add=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("source item")
        verbose_name_plural = _("source items")
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["source", "key"], name="source_item_key_unique")
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def url(self) -> str:
        """The live page, for a reader to open; empty for a folder's file."""
        return self.key if self.source.kind == Source.Kind.WEBSITE else ""
