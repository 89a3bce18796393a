"""Shared by the benchmarks: a throwaway embedded PostgreSQL, Django set up on it, the machine."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import sys
import tempfile
import threading
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


class PeakMemory:
    """The peak memory of a process and its descendants while the block runs: their
    proportional set sizes (shared pages counted once in all) summed, sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, tree_pss(self.pid))
            if self._stop.wait(0.2):
                return


def tree_pss(pid: int) -> int:
    """Bytes: the proportional set size of `pid` and its descendants (0 for those gone)."""
    total = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(tree_pss(int(child)) for child in children)


class ScratchDatabase:
    """An embedded PostgreSQL in a temporary folder, migrated, for one benchmark run; or, with
    `keep`, in that folder, left there (stopped) for the next run to reuse."""

    def __init__(self, keep: Path | None = None) -> None:
        self.keep = keep

    def __enter__(self) -> ScratchDatabase:
        from assistant.lib import var
        from assistant.lib.embedded_db import EmbeddedPostgres

        if self.keep:
            self.root = self.keep
            self.root.mkdir(parents=True, exist_ok=True)
        else:
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
        if self.keep:
            self.server.stop()  # left running by a run that was killed, on another port
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

    def watch_memory(self) -> PeakMemory:
        """The server's peak memory (every backend and worker) while the block runs."""
        pid = int((self.server.data_dir / "postmaster.pid").read_text().split()[0])
        return PeakMemory(pid)

    def __exit__(self, *exc) -> None:
        from django.db import connections

        connections.close_all()
        self.server.stop()
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)
