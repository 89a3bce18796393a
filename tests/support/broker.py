"""What waits in the filesystem broker's queue: the real messages a worker would take."""

from __future__ import annotations

import base64
import json
from pathlib import Path


def queued_tasks(settings) -> list[tuple[str, list]]:
    """Each message waiting in the queue folder, as (task name, arguments), oldest first."""
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_out"])
    tasks = []
    for path in sorted(folder.glob("*.msg")):
        message = json.loads(path.read_bytes())
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        tasks.append((message["headers"]["task"], args))
    return tasks
