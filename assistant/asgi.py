"""The ASGI application: Django, with two additions.

- Answer streams share a few threads. Django gives each request a thread of its own for its
  synchronous work (sessions, the ORM), held until the response ends: for an answer stream that
  is its whole life, and the thread's database connection with it. Streams instead take turns
  on `STREAM_THREADS` shared threads (asgiref's ThreadSensitiveContext with an executor), so
  500 open streams hold a handful of threads and pooled connections, not 500 of each.
- Traces, when OTEL_EXPORTER_OTLP_ENDPOINT is set (assistant.lib.tracing), configured before
  Django builds its middleware.
- A lifespan handler warms the embedding model up when the server starts (not on import), so
  the first search does not wait for it.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from contextvars import Context

# The web server shares a connection pool between its threads (see DATABASE_POOL in settings).
os.environ.setdefault("DATABASE_POOL", "true")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assistant.settings")

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core.asgi import get_asgi_application

from assistant.lib import tracing

tracing.configure()  # before the middleware is built: the Django instrumentation adds its own
django_application = get_asgi_application()

from ingest.embedders import warm_up  # noqa: E402  (needs the apps loaded above)

# The answer streams: the chat's event stream and the API's ask (streamed or not).
STREAM_PATHS = re.compile(r"^/(chat/messages/\d+/stream|api/v1/ask)$")
_stream_threads = itertools.cycle(
    [
        ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"stream-{n}")
        for n in range(settings.STREAM_THREADS)
    ]
)


async def application(scope, receive, send):
    if scope["type"] != "lifespan":
        # Each request in a fresh context: asyncio can leak a request's context variables (the
        # stream's thread among them) into the next request on its connection.
        return await asyncio.create_task(_handle(scope, receive, send), context=Context())
    while True:  # the lifespan
        event = await receive()
        if event["type"] == "lifespan.startup":
            threading.Thread(target=warm_up, name="embedder-warm-up", daemon=True).start()
            await send({"type": "lifespan.startup.complete"})
        elif event["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _handle(scope, receive, send):
    if scope["type"] == "http" and STREAM_PATHS.match(scope["path"]):
        async with ThreadSensitiveContext(executor=next(_stream_threads)):
            return await django_application(scope, receive, send)
    return await django_application(scope, receive, send)
