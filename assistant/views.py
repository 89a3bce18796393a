from __future__ import annotations

from django.http import HttpRequest
from django.template.response import TemplateResponse

from assistant.status import describe


def home(request: HttpRequest) -> TemplateResponse:
    return TemplateResponse(request, "assistant/home.html", {"about": describe()})
