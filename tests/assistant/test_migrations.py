"""A deployment of the layout before this one migrates cleanly: every row is still there."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from assistant.models import (
    ApiToken,
    Citation,
    Conversation,
    Feedback,
    LlmCall,
    Message,
    QuotaCounter,
    QuotaOverride,
    Throttle,
)
from ingest.models import Chunk, Collection, Document

# The newest migrations before the layout change, as a deployment of that version has them.
BEFORE = [("assistant", "0002_accounts_quotas_tokens"), ("ingest", "0004_cosine_distance_cost")]


@pytest.mark.django_db(transaction=True)
def test_rows_written_before_the_layout_change_are_all_there_after_migrating(django_user_model):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    user = django_user_model.objects.create_user("ann")
    collection = old.get_model("ingest", "Collection").objects.create(name="Guide")
    document = old.get_model("ingest", "Document").objects.create(
        collection_id=collection.pk,
        source_path="guide.md",
        sha256="0" * 64,
        status="processing",
        stage="requeued: its worker stopped",
    )
    chunk = old.get_model("ingest", "Chunk").objects.create(
        document_id=document.pk, collection_id=collection.pk, ordinal=0, text="Ask away."
    )
    conversation = old.get_model("assistant", "Conversation").objects.create(owner_id=user.pk)
    message = old.get_model("assistant", "Message").objects.create(
        conversation_id=conversation.pk, role="assistant", text="Ask away [1].", status="failed"
    )
    old.get_model("assistant", "Citation").objects.create(
        message_id=message.pk, n=1, chunk_id=chunk.pk, document_id=document.pk
    )
    old.get_model("assistant", "Feedback").objects.create(
        message_id=message.pk, user_id=user.pk, helpful=False
    )
    old.get_model("assistant", "LlmCall").objects.create(
        message_id=message.pk, provider="qwen", model="qwen-plus", outcome="broken"
    )
    old.get_model("assistant", "QuotaOverride").objects.create(user_id=user.pk, tokens_per_day=9)
    old.get_model("assistant", "UsageCounter").objects.create(
        user_id=user.pk, period="day", starts=datetime.date(2026, 11, 30), questions=3
    )
    old.get_model("assistant", "ApiToken").objects.create(
        user_id=user.pk, name="bot", prefix="abc", digest="f" * 64
    )
    old.get_model("assistant", "Throttle").objects.create(
        key="login:ann", window_started=datetime.datetime(2026, 11, 30, tzinfo=datetime.UTC)
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert Document.objects.get().stage == Document.Stage.REQUEUED
    assert LlmCall.objects.get().outcome == LlmCall.Outcome.BROKEN
    assert Message.objects.get().status == Message.Status.FAILED
    assert QuotaCounter.objects.get().period == QuotaCounter.Period.DAY
    assert Citation.objects.get().chunk == Chunk.objects.get()
    assert Feedback.objects.get().message.conversation == Conversation.objects.get()
    assert QuotaOverride.objects.get().tokens_per_day == 9
    assert ApiToken.objects.get().name == "bot"
    assert Throttle.objects.get().key == "login:ann"
    assert Collection.objects.get().name == "Guide"
