"""A streaming replica of an embedded PostgreSQL, made with the server's own binaries on loopback:
a replication user, a base backup (`pg_basebackup`) that writes the standby's settings and creates
its physical slot, and a hot standby on a free port."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg

from assistant.lib import embedded_db
from assistant.lib.embedded_db import EmbeddedPostgres
from assistant.lib.ports import free_port

REPLICATION_USER = "replicator"


def start_replica(primary: EmbeddedPostgres, data_dir: Path, *, slot: str) -> EmbeddedPostgres:
    """A hot standby of `primary` in `data_dir`, streaming through the slot `slot`, started."""
    with psycopg.connect(primary.url, autocommit=True) as db:
        if not db.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", [REPLICATION_USER]
        ).fetchone():
            db.execute(f"CREATE ROLE {REPLICATION_USER} WITH REPLICATION LOGIN")
    # The base backup runs as the server's user (a system user when we are root), which must be
    # able to create the data folder.
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if user := embedded_db._run_as():
        shutil.chown(data_dir.parent, user=user, group=user)
    primary._cmd(
        "pg_basebackup",
        "--host=127.0.0.1",
        f"--port={primary.port}",
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
