"""`var/`: what the embedded mode keeps between runs (database, queue, uploads, secret key).

Settings only read it; `prepare` makes it, called by manage.py before Django starts (and by the
test session for its own folder), so importing settings never writes anything.
"""

from __future__ import annotations

import os
import secrets
import socket
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


def metrics_folder() -> Path:
    """Where every process of the app writes its Prometheus samples (assistant.lib.metrics)."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    return Path(given).resolve() if given else var_dir() / "metrics"


def clear_metrics() -> None:
    """At start, before any process of the app writes: a previous run's samples go."""
    folder = metrics_folder()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db"):
        old.unlink()


def metrics_process_id(pid: int | None = None) -> str:
    """What names a process's sample files: the host name with the process id, since containers
    sharing the folder (docker-compose's web, worker and beat) each have a process 7."""
    host = socket.gethostname().replace("_", "-")
    return f"{host}-{pid or os.getpid()}"


def metrics_process_ended(pid: int) -> None:
    """A process ended: its live gauges stop counting. What prometheus-client's
    `multiprocess.mark_process_dead` does, here so that Celery's wiring need not import
    prometheus-client before its folder is known (it picks its storage when first imported)."""
    for live in metrics_folder().glob(f"gauge_live*_{metrics_process_id(pid)}.db"):
        live.unlink(missing_ok=True)


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
