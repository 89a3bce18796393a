"""The project's one NinjaAPI: docs at /api/docs, endpoints under /api/v1/."""

from __future__ import annotations

from ninja import NinjaAPI, Router, Schema

from assistant.status import describe

api = NinjaAPI(title="Knowledge assistant API", version="1", urls_namespace="api")
router = Router(tags=["service"])


class HealthOut(Schema):
    status: str
    provider: str
    model: str
    embedder: str
    embedding_model: str
    embedding_dimensions: int
    database: str
    pgvector: str | None
    broker: str


@router.get("/health", response=HealthOut, auth=None)
def health(request):
    """Whether the service is up, and which answer provider and embedder it runs."""
    return describe()


api.add_router("/v1/", router)
