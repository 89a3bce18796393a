"""When the database does not answer: a 503 that says so, at once, instead of a bare 500."""

from __future__ import annotations

import logging

from asgiref.sync import iscoroutinefunction
from django.db import OperationalError
from django.http import HttpResponse
from django.utils.decorators import sync_and_async_middleware
from django.utils.translation import gettext_lazy

log = logging.getLogger(__name__)

MESSAGE = gettext_lazy("The database is not answering right now; try again in a minute.")
RETRY_AFTER_S = 30


@sync_and_async_middleware
def database_unavailable(get_response):
    """Turns a failed connection (PostgreSQL down or restarting) in a view into a 503 with
    Retry-After (the API has its own handler for the same, in its JSON shape)."""

    if iscoroutinefunction(get_response):

        async def middleware(request):
            return await get_response(request)

    else:

        def middleware(request):
            return get_response(request)

    middleware.process_exception = _unavailable
    return middleware


def _unavailable(request, error: Exception) -> HttpResponse | None:
    if not isinstance(error, OperationalError):
        return None
    log.error("database unavailable for %s %s: %s", request.method, request.path, error)
    response = HttpResponse(str(MESSAGE), status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response
