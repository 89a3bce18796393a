import os
import threading

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assistant.settings")

application = get_asgi_application()

from ingest.embedders import warm_up  # noqa: E402  (needs the apps loaded above)

# The first search or question would otherwise wait while the embedding model loads.
threading.Thread(target=warm_up, name="embedder-warm-up", daemon=True).start()
