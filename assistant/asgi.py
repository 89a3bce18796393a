"""The ASGI application: Django, plus a lifespan handler that warms the embedding model up when
the server starts (not on import), so the first search does not wait for it."""

from __future__ import annotations

import os
import threading

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assistant.settings")

django_application = get_asgi_application()

from ingest.embedders import warm_up  # noqa: E402  (needs the apps loaded above)


async def application(scope, receive, send):
    if scope["type"] != "lifespan":
        return await django_application(scope, receive, send)
    while True:
        event = await receive()
        if event["type"] == "lifespan.startup":
            threading.Thread(target=warm_up, name="embedder-warm-up", daemon=True).start()
            await send({"type": "lifespan.startup.complete"})
        elif event["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
