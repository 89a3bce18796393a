"""Traces: the spans of one answer and their attributes, the OTLP export, and nothing at all
while no endpoint is set."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import httpx
import pytest
from django.core.management import call_command
from opentelemetry import trace
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ingest.models import Collection
from tests.conftest import ROOT, worker_database_url
from tests.support import app_server
from tests.support.documents import ingest_text
from tests.support.qwen_standin import Reply
from tests.support.waiting import wait_for

QUESTION = "How many questions may each person ask per day?"
PASSAGE = "Each person may ask two hundred questions a day, administrators can raise it."


@pytest.fixture(scope="module")
def exporter():
    """This process's spans, kept in memory (the SDK's exporter for tests)."""
    memory = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    DjangoInstrumentor().instrument()
    yield memory
    DjangoInstrumentor().uninstrument()
    memory.shutdown()


def token_for(username: str) -> str:
    out = StringIO()
    call_command("create_api_token", username, stdout=out)
    return out.getvalue().strip()


@pytest.mark.django_db(transaction=True)
def test_one_answer_is_one_span_tree_without_the_prompt(
    exporter, client, qwen_settings, standin, django_user_model
):
    qwen_settings.RERANK_PROVIDER = "qwen"
    qwen_settings.QUERY_REWRITE = "always"
    qwen_settings.AUTO_UPGRADE = False  # one model call (test_upgrade.py traces nothing)
    ingest_text(
        Collection.objects.create(name="Guide", is_public=True), "g.md", f"# Q\n\n{PASSAGE}\n"
    )
    django_user_model.objects.create_user("ann", password="pw-ann-123456")
    token = token_for("ann")
    standin.script(Reply(text="quota per day"))  # the rewrite
    standin.script(Reply(text="Two hundred a day [1].", prompt_tokens=80, completion_tokens=6))
    exporter.clear()

    response = client.post(
        "/api/v1/ask",
        {"question": QUESTION},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 200, response.content
    spans = exporter.get_finished_spans()
    by_name = {span.name: span for span in spans}
    [request] = [s for s in spans if s.kind == trace.SpanKind.SERVER]
    method = request.attributes.get("http.request.method", request.attributes.get("http.method"))
    assert request.parent is None and method == "POST"

    def children(parent) -> set[str]:
        return {s.name for s in spans if s.parent and s.parent.span_id == parent.context.span_id}

    assert {"llm.rewrite", "retrieval", "llm.answer"} <= children(request)
    legs = children(by_name["retrieval"])
    assert {"retrieval.embed", "retrieval.dense", "retrieval.lexical", "retrieval.fusion"} <= legs
    assert "retrieval.rerank" in legs
    answer = by_name["llm.answer"].attributes
    assert answer["gen_ai.request.model"] == "qwen-plus" and answer["gen_ai.system"] == "qwen"
    assert answer["gen_ai.usage.input_tokens"] > 0 and answer["gen_ai.usage.output_tokens"] > 0
    assert answer["assistant.first_token_ms"] > 0 and answer["assistant.outcome"] == "ok"
    assert by_name["llm.rewrite"].attributes["gen_ai.request.model"] == "qwen-turbo"
    assert by_name["retrieval.rerank"].attributes["assistant.candidates"] >= 1
    every_value = " ".join(str(v) for s in spans for v in s.attributes.values())
    assert QUESTION not in every_value and "two hundred" not in every_value.lower()
    assert {s.context.trace_id for s in spans if s.name.startswith(("llm", "retrieval"))} == {
        request.context.trace_id
    }


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_otlp_exporter_posts_the_web_spans_to_the_endpoint(db):
    collector = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    env = os.environ | {
        "DATABASE_URL": worker_database_url(),
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_port}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    server, url = app_server.start(env)
    try:
        httpx.get(f"{url}/api/v1/health", timeout=10)

        def exported():
            spans = []
            for path, body in _Collector.received:
                assert path == "/v1/traces"
                request = ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    service = {a.key: a.value.string_value for a in resource.resource.attributes}
                    for scope in resource.scope_spans:
                        spans += [(service["service.name"], s.name) for s in scope.spans]
            return [span for span in spans if "health" in span[1]]

        [(service, _name), *_] = wait_for(exported)
    finally:
        server.terminate()
        server.wait(timeout=20)
        collector.shutdown()

    assert service == "assistant-web"


def test_without_an_endpoint_no_sdk_is_even_loaded():
    probe = (
        "import sys, django; django.setup(); import assistant.asgi; "
        "from opentelemetry import trace; "
        "print(type(trace.get_tracer_provider()).__name__, 'opentelemetry.sdk' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env | {"DJANGO_SETTINGS_MODULE": "assistant.settings"},
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.split() == ["ProxyTracerProvider", "False"]
