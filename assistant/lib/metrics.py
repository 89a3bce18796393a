"""Prometheus metrics, correct across every web and worker process of one machine.

prometheus-client's multiprocess mode: each process (uvicorn workers, Celery's pool processes,
beat) writes its samples to memory-mapped files in PROMETHEUS_MULTIPROC_DIR (default
var/metrics/), and /metrics on any web process adds up every process's files. A port per process
would not do: Celery's pool processes come and go with autoscaling, and a scrape through a load
balancer would reach one web process at random. Files are named by host and process id
(var.metrics_process_id): containers sharing the folder each have a process 7. `manage.py run`
empties the folder at start; a pool process marks itself dead when it ends, so the live gauges
drop its value.

Metric names, labels and help texts are fixed English: they are machine-readable.
"""

from __future__ import annotations

import os

from asgiref.sync import iscoroutinefunction
from django.db import connections
from django.utils.decorators import sync_and_async_middleware

from assistant.lib import var

# prometheus-client picks its storage when it is first imported: the folder must be known first.
_folder = var.metrics_folder()
_folder.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_folder)

# Every module of ours takes prometheus-client's names from here, so this import comes first.
from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402

values.ValueClass = values.MultiProcessValue(process_identifier=var.metrics_process_id)

__all__ = ["CONTENT_TYPE_LATEST", "GaugeMetricFamily"]

SECONDS = (0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60, 120)
STAGE_SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900)

ANSWERS = Counter(
    "assistant_answers", "Answers finished, by final status and model.", ["status", "model"]
)
FIRST_TOKEN = Histogram(
    "assistant_answer_first_token_seconds",
    "From the question to the answer's first token.",
    ["model"],
    buckets=SECONDS,
)
ANSWER_TIME = Histogram(
    "assistant_answer_seconds",
    "From the question to the stored answer.",
    ["model"],
    buckets=SECONDS,
)
OPEN_STREAMS = Gauge(
    "assistant_open_streams", "Answers being written right now.", multiprocess_mode="livesum"
)
MODEL_CALLS = Counter(
    "assistant_model_calls",
    "Model calls, by kind, model and outcome.",
    ["kind", "model", "outcome"],
)
TOKENS = Counter(
    "assistant_model_tokens",
    "Tokens of model calls, by kind, model and direction (prompt or completion).",
    ["kind", "model", "direction"],
)
COST = Counter("assistant_model_cost_usd", "Cost of model calls in USD.", ["kind", "model"])
INGESTED = Counter(
    "assistant_documents_ingested", "Ingestion runs finished, by outcome.", ["status"]
)
INGEST_STAGE = Histogram(
    "assistant_ingest_stage_seconds",
    "Time per ingestion stage (parse, chunk, embed, embed_en, write).",
    ["stage"],
    buckets=STAGE_SECONDS,
)
SOURCE_SYNCS = Counter("assistant_source_syncs", "Source syncs finished, by outcome.", ["outcome"])
LOGIN_FAILURES = Counter("assistant_login_failures", "Wrong passwords at a login form.")
LOGIN_LOCKOUTS = Counter("assistant_login_lockouts", "Logins locked after too many failures.")
OIDC_SIGN_INS = Counter(
    "assistant_oidc_sign_ins", "Sign-ins at the OpenID Connect provider, by outcome.", ["outcome"]
)
DB_POOL_IN_USE = Gauge(
    "assistant_db_pool_connections_in_use",
    "Pooled database connections lent out, per web process at its last request, added up.",
    multiprocess_mode="livesum",
)


def count_call(
    *,
    kind: str,
    model: str,
    outcome: str,
    prompt_tokens: int,
    completion_tokens: int,
    cost_usd: float,
) -> None:
    MODEL_CALLS.labels(kind, model, outcome).inc()
    TOKENS.labels(kind, model, "prompt").inc(prompt_tokens)
    TOKENS.labels(kind, model, "completion").inc(completion_tokens)
    COST.labels(kind, model).inc(cost_usd)


def answer_finished(
    *, status: str, model: str, first_token_ms: int | None, total_ms: int | None
) -> None:
    model = model or "none"
    ANSWERS.labels(status, model).inc()
    if first_token_ms is not None:
        FIRST_TOKEN.labels(model).observe(first_token_ms / 1000)
    if total_ms is not None:
        ANSWER_TIME.labels(model).observe(total_ms / 1000)


def ingest_stages(timings: dict[str, float]) -> None:
    """A document's stage times, as the pipeline keeps them ({"parse_s": 0.2, ...})."""
    for stage, seconds in timings.items():
        INGEST_STAGE.labels(stage.removesuffix("_s")).observe(seconds)


def pool_in_use(stats: dict[str, int]) -> None:
    DB_POOL_IN_USE.set(stats.get("pool_size", 0) - stats.get("pool_available", 0))


def exposition(*collectors) -> bytes:
    """Every process's samples added up, with `collectors` (read at scrape time) beside them."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)


@sync_and_async_middleware
def pool_usage(get_response):
    """After each request, this process's pooled connections in use (web processes only have
    a pool; see DATABASE_POOL)."""

    def note() -> None:
        pool = getattr(connections["default"], "pool", None)
        if pool is not None:
            pool_in_use(pool.get_stats())

    if iscoroutinefunction(get_response):

        async def middleware(request):
            response = await get_response(request)
            note()
            return response

    else:

        def middleware(request):
            response = get_response(request)
            note()
            return response

    return middleware
