"""GET /metrics for Prometheus: to the bearer token in METRICS_TOKEN, or from the addresses in
METRICS_ALLOWED_ADDRESSES; refused to anyone else (and to everyone while neither is set)."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from assistant.lib import metrics
from assistant.lib.metrics import CONTENT_TYPE_LATEST, GaugeMetricFamily
from ingest.models import Document


class DatabaseGauges:
    """What the database knows, read at scrape time: documents by status, the ingestion queue."""

    def collect(self):
        documents = GaugeMetricFamily(
            "assistant_documents", "Documents, by ingestion status.", labels=["status"]
        )
        counts = Document.objects.count_by_status()
        for status in Document.Status.values:
            documents.add_metric([status], counts.get(status, 0))
        yield documents
        yield GaugeMetricFamily(
            "assistant_ingest_queue_depth",
            "Documents waiting for a worker (queued, not yet taken).",
            value=counts.get(Document.Status.QUEUED, 0),
        )


def allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_ADDRESSES)


@require_GET
def scrape(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics.exposition(DatabaseGauges()), content_type=CONTENT_TYPE_LATEST)
