"""What this installation runs on, for the home page and the health endpoint."""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from assistant.llm.prompts import Tier
from assistant.llm.providers import get_provider
from ingest.embedders import get_embedder


def describe() -> dict[str, object]:
    provider = get_provider()
    embedder = get_embedder()
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    return {
        "status": "ok",
        "provider": provider.name,
        "model": provider.model_for(Tier.DEFAULT),
        "embedder": embedder.name,
        "embedding_model": embedder.model,
        "embedding_dimensions": embedder.dimensions,
        "database": "embedded" if settings.EMBEDDED_DATABASE else "external",
        "pgvector": row[0] if row else None,
        "broker": "filesystem" if settings.EMBEDDED_BROKER else "external",
    }
