"""`var/`: what the embedded mode keeps between runs (database, queue, uploads, secret key).

Settings only read it; `prepare` makes it, called by manage.py before Django starts (and by the
test session for its own folder), so importing settings never writes anything.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parents[2]


def var_dir() -> Path:
    return Path(os.environ.get("VAR_DIR", "").strip() or ROOT / "var").resolve()


def celery_folders(var: Path) -> dict[str, Path]:
    """kombu's filesystem transport: absolute folders that must exist. Left unset, its control
    folder (broadcasts, pidbox) would be a relative `control/` wherever a process starts."""
    celery = var / "celery"
    return {
        "queue": celery / "queue",
        "control": celery / "control",
        "processed": celery / "processed",
    }


def prepare(var: Path) -> None:
    """Make var/'s folders and, unless SECRET_KEY is set, a random secret key kept there so
    sessions survive restarts."""
    for folder in celery_folders(var).values():
        folder.mkdir(parents=True, exist_ok=True)
    key = var / "secret_key"
    if not os.environ.get("SECRET_KEY") and not key.exists():
        key.write_text(secrets.token_urlsafe(50))
        key.chmod(0o600)


def secret_key(var: Path) -> str:
    try:
        return (var / "secret_key").read_text().strip()
    except FileNotFoundError:
        raise ImproperlyConfigured(
            f"SECRET_KEY is not set and {var / 'secret_key'} does not exist: run any "
            "`manage.py` command once (`make run` does), or set SECRET_KEY."
        ) from None
