"""Shared by the benchmarks: a throwaway embedded PostgreSQL, Django set up on it, the machine."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def machine() -> str:
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory_gib:.0f} GiB, Python {platform.python_version()}"
    )


def stamp() -> str:
    return f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}"


def setup_django_without_database() -> None:
    """Django for a benchmark that reads no database and serves nothing: in a fresh clone there
    is no var/secret_key yet, and no key is needed."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assistant.settings")
    os.environ.setdefault("SECRET_KEY", "a benchmark signs nothing")
    import django

    django.setup()


class ScratchDatabase:
    """An embedded PostgreSQL in a temporary folder, migrated, for one benchmark run."""

    def __enter__(self) -> ScratchDatabase:
        from assistant.lib import var
        from assistant.lib.embedded_db import EmbeddedPostgres

        self.root = Path(tempfile.mkdtemp(prefix="assistant-bench-"))
        self.root.chmod(0o755)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.server = EmbeddedPostgres(
            data_dir=self.root / "postgres" / "data",
            port=port,
            settings={
                "shared_buffers": "512MB",
                "maintenance_work_mem": "1GB",
                "max_parallel_maintenance_workers": "2",
            },
        )
        self.server.ensure_running()
        os.environ["DATABASE_URL"] = self.server.url
        os.environ["VAR_DIR"] = str(self.root / "var")
        var.prepare(self.root / "var")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assistant.settings")
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        return self

    def __exit__(self, *exc) -> None:
        from django.db import connections

        connections.close_all()
        self.server.stop()
        shutil.rmtree(self.root, ignore_errors=True)
