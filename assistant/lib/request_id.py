"""One id per request, on its response, its log lines, the Celery tasks it starts and its model
calls: one id finds everything about an answer.

The id lives in a context variable: asyncio tasks and asgiref's thread hops copy it, so an answer
stream and the sync code it calls see the id of the request that opened it. Every log record
carries `request_id` and `user_id` (a record factory adds them), whatever handler formats it.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.utils.decorators import sync_and_async_middleware

HEADER = "X-Request-ID"
# What we keep from a trusted proxy's header: short, and nothing that could forge a log line.
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

_request_id: ContextVar[str] = ContextVar("request_id", default="")
_user_id: ContextVar[int | None] = ContextVar("user_id", default=None)
_address: ContextVar[str | None] = ContextVar("address", default=None)


def current() -> str:
    """This request's (or task's) id; "" outside of both."""
    return _request_id.get()


def current_user_id() -> int | None:
    return _user_id.get()


def current_address() -> str | None:
    """The client address of the request being served (None in a task or a command)."""
    return _address.get()


def new_id() -> str:
    return uuid.uuid4().hex


def bind(request_id: str, user_id: int | None = None, address: str | None = None) -> None:
    """Make `request_id` (and the user, the address) the current ones: a request starts, a
    task begins."""
    _request_id.set(request_id)
    _user_id.set(user_id)
    _address.set(address)


def set_user(user_id: int | None) -> None:
    _user_id.set(user_id)


def _incoming(request) -> str:
    given = request.headers.get(HEADER, "")
    if settings.REQUEST_ID_FROM_HEADER and _VALID.match(given):
        return given
    return new_id()


@sync_and_async_middleware
def request_id(get_response):
    """Gives the request its id (a trusted proxy's, else a new one) and answers with it."""

    if iscoroutinefunction(get_response):

        async def middleware(request):
            request.id = _incoming(request)
            bind(request.id, address=request.META.get("REMOTE_ADDR"))
            response = await get_response(request)
            response[HEADER] = request.id
            return response

    else:

        def middleware(request):
            request.id = _incoming(request)
            # Not unbound on return: Django logs a 4xx/5xx after the middleware has returned.
            # The thread's next request binds its own.
            bind(request.id, address=request.META.get("REMOTE_ADDR"))
            response = get_response(request)
            response[HEADER] = request.id
            return response

    return middleware


@sync_and_async_middleware
def request_user(get_response):
    """After authentication: the signed-in person's id joins the request's log lines."""

    if iscoroutinefunction(get_response):

        async def middleware(request):
            user = await request.auser()
            set_user(user.pk if user.is_authenticated else None)
            return await get_response(request)

    else:

        def middleware(request):
            set_user(request.user.pk if request.user.is_authenticated else None)
            return get_response(request)

    return middleware


def install_log_records() -> None:
    """Every log record from now on carries the current request id and user id."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "carries_request_id", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = _request_id.get() or "-"
        record.user_id = _user_id.get()
        return record

    factory.carries_request_id = True
    logging.setLogRecordFactory(factory)
