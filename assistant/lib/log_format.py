"""Log lines, plain or JSON (LOG_FORMAT): time, level, logger, request id, user id, message.

Only what the code put in its message goes out, never request bodies, headers or document text:
a log call names ids and counts, not content.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

PLAIN = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# Records made before the record factory is installed (Django's own start-up) lack the fields.
_DEFAULTS = {"request_id": "-", "user_id": None}


class JsonLines(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "user_id": getattr(record, "user_id", None),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatter(kind: str) -> logging.Formatter:
    """The formatter for LOG_FORMAT `kind` ("plain" or "json")."""
    if kind == "json":
        return JsonLines()
    return logging.Formatter(PLAIN, defaults=_DEFAULTS)
