"""OpenTelemetry traces: off, and free, unless OTEL_EXPORTER_OTLP_ENDPOINT is set.

Without the endpoint nothing is configured: the API's default tracer hands out no-op spans, so a
`span(...)` costs a function call. With it, every process (web, worker) exports over OTLP/HTTP
(the standard OTEL_* variables apply: service name, headers, sampling) and Django, Celery and
psycopg are instrumented; a task's spans join the trace of the request that queued it.

Span attributes name models, counts, ids and times; prompts, questions and document text never
go into a span.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from opentelemetry import trace

_tracer = trace.get_tracer("assistant")
_configured = False


def enabled() -> bool:
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip())


def configure(*, celery_worker: bool = False) -> None:
    """Export spans from this process, if an endpoint is set. Call before Django builds its
    middleware (the Django instrumentation adds its own); in a Celery worker, before it forks
    its pool (the span processor starts its thread again in each child)."""
    global _configured
    if not enabled() or _configured:
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    service = os.environ.get("OTEL_SERVICE_NAME") or (
        "assistant-worker" if celery_worker else "assistant-web"
    )
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    # Read the settings first: the Django instrumentation configures Django's defaults itself
    # when it finds them not loaded yet.
    assert settings.MIDDLEWARE
    DjangoInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    PsycopgInstrumentor().instrument(enable_commenter=False)
    _configured = True


@contextmanager
def span(name: str, **attributes) -> Iterator[trace.Span]:
    """A child of the current span, with `attributes` (numbers, names and ids only)."""
    with _tracer.start_as_current_span(name, attributes=_clean(attributes)) as current:
        yield current


def start(name: str, **attributes) -> trace.Span:
    """A span ended by the caller (`.end()`): for work spread over an async generator, where a
    context manager would leave its context in another task."""
    return _tracer.start_span(name, attributes=_clean(attributes))


def finished(name: str, started_ns: int, **attributes) -> None:
    """A span for work that began at `started_ns` (time.time_ns()) and ended now."""
    _tracer.start_span(name, start_time=started_ns, attributes=_clean(attributes)).end()


def usage(model: str, used) -> dict:
    """The GenAI semantic conventions' names for a model call's model and tokens."""
    return {
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": used.prompt_tokens,
        "gen_ai.usage.output_tokens": used.completion_tokens,
    }


def _clean(attributes: dict) -> dict:
    return {key: value for key, value in attributes.items() if value is not None}
