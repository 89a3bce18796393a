"""The project's one NinjaAPI: docs at /api/docs, endpoints under /api/v1/.

Every error has one shape: {"error": {"code": "machine_readable", "message": "For people."}}.
"""

from __future__ import annotations

import logging

from asgiref.sync import iscoroutinefunction
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from django.utils.decorators import sync_and_async_middleware
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Router, Schema, security
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from assistant.accounts import tokens
from assistant.accounts.api import router as quota
from assistant.accounts.quotas import QuotaExceeded
from assistant.audit.api import router as audit
from assistant.chat.api import router as chat
from assistant.chat.conversations import TooManyOpenAnswers
from assistant.chat.installation import describe
from assistant.chat.reviewed_api import router as reviewed
from assistant.chat.search_api import router as search
from assistant.lib import outage, request_id
from assistant.lib.api import ApiError
from ingest.api import router as documents


class TokenAuth(HttpBearer):
    """A personal API token (create one on your account page, or `manage.py create_api_token`)."""

    def authenticate(self, request, token: str):
        # A token that is sent but wrong is a 401, whatever the method: falling through to the
        # session would answer a POST with "CSRF check Failed".
        if user := tokens.user_for(token):
            request_id.set_user(user.pk)
            return user
        raise AuthenticationError


class SessionAuth(security.SessionAuth):
    """The browser session; its CSRF check applies only to a logged-in session, so a request
    with neither token nor session is told to log in (401), not that its CSRF token is bad."""

    def __call__(self, request):
        if not request.user.is_authenticated:
            return None
        return super().__call__(request)


log = logging.getLogger(__name__)

api = NinjaAPI(
    title="Knowledge assistant API",
    version="1",
    urls_namespace="api",
    auth=[TokenAuth(), SessionAuth()],
    description="Search your documents and get cited answers. Authenticate with a personal API "
    "token as `Authorization: Bearer <token>`, or with the browser session.",
)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}


@sync_and_async_middleware
def json_errors(get_response):
    """Every error under /api/ in the one JSON shape, also those Django answers before the API
    sees the request: an unknown path (404), a method the path does not take (405)."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            return _shaped(request, await get_response(request))

    else:

        def middleware(request):
            return _shaped(request, get_response(request))

    return middleware


def _shaped(request, response):
    if request.path in {"/api", "/api/"}:  # not an HTML redirect, whatever Django or ninja say
        return error_response(
            request,
            404,
            "not_found",
            _("No endpoint here: the API is under /api/v1/, documented at /api/docs."),
        )
    if (
        not request.path.startswith("/api/")
        or response.status_code < 400
        or response.get("Content-Type", "").startswith("application/json")
    ):
        return response
    status = response.status_code
    message = {404: _("Not found."), 405: _("This path does not take that method.")}.get(
        status, response.reason_phrase
    )
    shaped = error_response(request, status, _CODES.get(status, "error"), message)
    if allow := response.get("Allow"):
        shaped["Allow"] = allow
    return shaped


def error_response(request, status: int, code: str, message: str, headers: dict | None = None):
    response = api.create_response(
        request, {"error": {"code": code, "message": message}}, status=status
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@api.exception_handler(ApiError)
def _api_error(request, error: ApiError):
    return error_response(request, error.status, error.code, error.message, error.headers)


@api.exception_handler(HttpError)
def _http_error(request, error: HttpError):
    code = _CODES.get(error.status_code, "error")
    return error_response(request, error.status_code, code, str(error.message))


@api.exception_handler(QuotaExceeded)
def _over_quota(request, error: QuotaExceeded):
    return error_response(
        request, 429, "quota_exceeded", str(error), {"Retry-After": str(error.retry_after_s)}
    )


@api.exception_handler(TooManyOpenAnswers)
def _too_many_open(request, error: TooManyOpenAnswers):
    return error_response(request, 429, "too_many_open_answers", str(error), {"Retry-After": "5"})


@api.exception_handler(OperationalError)
def _database_unavailable(request, error: OperationalError):
    log.error("database unavailable for %s %s: %s", request.method, request.path, error)
    return error_response(
        request,
        503,
        "unavailable",
        str(outage.MESSAGE),
        {"Retry-After": str(outage.RETRY_AFTER_S)},
    )


@api.exception_handler(RequestDataTooBig)
def _too_large(request, error):
    return error_response(
        request, 413, "too_large", _("The request body is larger than this server accepts.")
    )


@api.exception_handler(MultiPartParserError)
def _bad_multipart(request, error):
    return error_response(request, 400, "bad_request", _("The multipart body could not be read."))


@api.exception_handler(Http404)
def _not_found(request, error):
    return error_response(request, 404, "not_found", _("Not found."))


@api.exception_handler(AuthenticationError)
def _unauthorized(request, error):
    return error_response(
        request,
        401,
        "unauthorized",
        _("Log in, or send a personal API token as 'Authorization: Bearer …'."),
    )


@api.exception_handler(ValidationError)
def _invalid(request, error: ValidationError):
    details = "; ".join(
        f"{'.'.join(str(p) for p in item.get('loc', [])[1:]) or 'body'}: {invalid_input(item)}"
        for item in error.errors
    )
    return error_response(request, 422, "invalid_request", details or _("Invalid request."))


# Pydantic's messages are English only: the common ones in our words, so they are translated.
_PYDANTIC = {
    "missing": lambda ctx: _("Field required"),
    "string_too_long": lambda ctx: _("String should have at most %(max_length)s characters"),
    "string_too_short": lambda ctx: _("String should have at least %(min_length)s characters"),
    "too_long": lambda ctx: _("List should have at most %(max_length)s items"),
    "too_short": lambda ctx: _("List should have at least %(min_length)s items"),
    "string_type": lambda ctx: _("Input should be a valid string"),
    "int_type": lambda ctx: _("Input should be a valid integer"),
    "int_parsing": lambda ctx: _("Input should be a valid integer"),
    "bool_type": lambda ctx: _("Input should be a valid boolean"),
    "bool_parsing": lambda ctx: _("Input should be a valid boolean"),
    "list_type": lambda ctx: _("Input should be a valid list"),
    "greater_than_equal": lambda ctx: _("Input should be greater than or equal to %(ge)s"),
    "less_than_equal": lambda ctx: _("Input should be less than or equal to %(le)s"),
    "greater_than": lambda ctx: _("Input should be greater than %(gt)s"),
    "json_invalid": lambda ctx: _("Invalid JSON"),
}


def invalid_input(item: dict) -> str:
    """One validation error for people, in their language."""
    ctx = item.get("ctx") or {}
    if item.get("type") == "value_error" and "error" in ctx:
        return str(ctx["error"])  # our own validators' messages, translated when raised
    if template := _PYDANTIC.get(item.get("type", "")):
        return template(ctx) % ctx if ctx else template(ctx)
    return str(item.get("msg", ""))


service = Router(tags=["service"])


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


@service.get("/health", response=HealthOut, auth=None)
def health(request):
    """Whether the service is up, and which answer provider and embedder it runs."""
    return describe()


for _router in [service, search, documents, chat, reviewed, quota, audit]:
    api.add_router("/v1/", _router)
