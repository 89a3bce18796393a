from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from django.template.response import TemplateResponse

from assistant.forms import SearchForm
from assistant.highlight import highlight, snippet
from assistant.retrieval import search as retrieve
from assistant.status import describe


def home(request: HttpRequest) -> TemplateResponse:
    return TemplateResponse(request, "assistant/home.html", {"about": describe()})


@login_required
def search(request: HttpRequest) -> TemplateResponse:
    """Search without generation; one URL for the page and, for htmx, the results fragment."""
    form = SearchForm(request.GET or None, user=request.user)
    results, query, took = [], "", None
    if form.is_valid() and (query := form.cleaned_data["q"]):
        collection = form.cleaned_data["collection"]
        found = retrieve(
            query, user=request.user, collection_ids=[collection.pk] if collection else None, k=10
        )
        took = found.timings["total_ms"]
        results = [
            {"hit": hit, "passage": highlight(snippet(hit.text, query), query)}
            for hit in found.hits
        ]
    template = "assistant/search.html"
    if request.htmx:
        template += "#results"
    context = {"form": form, "results": results, "query": query, "took": took}
    return TemplateResponse(request, template, context)
