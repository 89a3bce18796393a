"""Search through a real streaming replica of the embedded PostgreSQL, and the primary whenever the
replica is down or lagging. One primary, one hot standby (pg_basebackup, a replication slot) and
the app under uvicorn, all on loopback, for the module."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from assistant.lib.embedded_db import EmbeddedPostgres
from assistant.lib.ports import free_port
from tests.conftest import manage
from tests.support import app_server
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

RETRY_S = 3


@dataclass
class Cluster:
    primary: EmbeddedPostgres
    replica: EmbeddedPostgres
    env: dict[str, str]
    client: httpx.Client
    log: Path
    root: Path

    def ingest(self, name: str, text: str) -> None:
        folder = Path(tempfile.mkdtemp(dir=self.root))
        (folder / f"{name}.md").write_text(text)
        done = manage(
            "ingest", str(folder), "--collection", name, "--public", "--wait", env=self.env
        )
        assert done.returncode == 0, done.stderr

    def search(self, query: str) -> str:
        """The title of the best passage."""
        response = self.client.post("/api/v1/search", json={"query": query})
        assert response.status_code == 200, response.text
        return response.json()["passages"][0]["title"]

    def wait_until_the_replica_serves(self, query: str, title: str) -> None:
        """Search until a search is read from the replica: searches read the primary while the
        replica rests (after a test stopped it or found it lagging), and a standby's statistics
        show a read within seconds."""
        scans = chunk_scans(self.replica)

        def served_by_the_replica() -> bool:
            assert self.search(query) == title
            return chunk_scans(self.replica) > scans

        wait_for(served_by_the_replica, timeout=90, every=0.5)

    def log_lines(self, text: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if text in line]

    @property
    def replica_name(self) -> str:
        return f"read replica replica_1 (127.0.0.1:{self.replica.port}/assistant)"


def chunk_scans(server: EmbeddedPostgres) -> int:
    """Scans of the chunk table that `server` itself ran (a standby counts its own reads)."""
    with psycopg.connect(server.url) as db:
        row = db.execute(
            "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
            "WHERE relname = 'ingest_chunk'"
        ).fetchone()
    return row[0]


def replica_sql(cluster: Cluster, sql: str):
    with psycopg.connect(cluster.replica.url, autocommit=True) as db:
        return db.execute(sql).fetchone()[0]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    # Not tmp_path: the servers may run as another user, who must reach these folders.
    root = Path(tempfile.mkdtemp(prefix="assistant-replicas-"))
    root.chmod(0o755)
    primary = EmbeddedPostgres(data_dir=root / "primary" / "data", port=free_port())
    primary.ensure_running()
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR"}
    } | {"VAR_DIR": str(root / "var"), "DATABASE_URL": primary.url}
    replica = server = None
    try:
        assert manage("migrate", "-v0", env=env).returncode == 0
        manage("createsuperuser", "--noinput", "--username", "ops", "--email", "", env=env)
        token = manage("create_api_token", "ops", env=env).stdout.strip()
        replica = primary.start_replica(root / "replica" / "data", slot="replica_1")
        log = root / "web.log"
        server_env = env | {
            "DATABASE_REPLICA_URLS": replica.url,
            "DATABASE_REPLICA_RETRY_S": str(RETRY_S),
        }
        with log.open("w") as output:
            server, url = app_server.start(server_env, output=output, access_log=False)
        client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        yield Cluster(primary, replica, env, client, log, root)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if replica is not None:
            replica.stop()
        primary.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def replica(cluster: Cluster) -> Iterator[Cluster]:
    """The cluster with its replica running and replaying, and back so after the test."""
    cluster.replica.ensure_running()
    yield cluster
    cluster.replica.ensure_running()
    replica_sql(cluster, "SELECT pg_wal_replay_resume()")


def test_a_search_reads_from_the_replica_what_was_written_on_the_primary(replica):
    replica.ingest("Lighthouses", "# Keepers\n\nThe lighthouse keeper trims the wick at dusk.\n")

    replica.wait_until_the_replica_serves("lighthouse keeper wick", "Keepers")


def test_a_stopped_replica_never_breaks_an_answer_and_the_log_names_it_once(replica):
    replica.ingest("Orchards", "# Grafting\n\nApple trees are grafted onto rootstock in spring.\n")
    replica.wait_until_the_replica_serves("apple rootstock grafting", "Grafting")
    earlier = len(replica.log_lines(f"{replica.replica_name} is down:"))
    back = len(replica.log_lines(f"{replica.replica_name} serves searches again"))
    replica.replica.stop()

    answer = replica.client.post("/api/v1/ask", json={"question": "When are apple trees grafted?"})
    results = [replica.search("apple rootstock grafting") for _ in range(2)]

    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "succeeded"
    assert [citation["title"] for citation in answer.json()["citations"]] == ["Grafting"]
    assert results == ["Grafting"] * 2
    down = replica.log_lines(f"{replica.replica_name} is down:")[earlier:]
    assert len(down) == 1, "one attempt, then it rests"
    assert "searches read the primary for the next 3 s" in down[0]

    replica.replica.ensure_running()

    replica.wait_until_the_replica_serves("apple rootstock grafting", "Grafting")
    assert len(replica.log_lines(f"{replica.replica_name} serves searches again")) == back + 1


def test_a_lagging_replica_falls_back_to_the_primary_and_the_log_says_why(replica):
    replica.ingest("Tides", "# Neap tides\n\nNeap tides come when the moon is at a quarter.\n")
    replica.wait_until_the_replica_serves("neap tides moon quarter", "Neap tides")
    replica_sql(replica, "SELECT pg_wal_replay_pause()")
    wait_for(lambda: replica_sql(replica, "SELECT pg_get_wal_replay_pause_state()") == "paused")

    replica.ingest(
        "Glaciers", "# Moraines\n\nA terminal moraine marks the glacier's furthest reach.\n"
    )
    found = replica.search("terminal moraine glacier")

    assert found == "Moraines", "written after replay paused: only the primary has it"
    lagging = replica.log_lines(f"{replica.replica_name} is lagging:")
    assert lagging
    assert "bytes of WAL behind the primary after 100 ms" in lagging[-1]
    assert "replay is paused" in lagging[-1]


# Where a search reads, in a process of its own (a fresh health cache), outside a transaction and
# inside one, which may hold writes of its own that no replica can see.
WHERE_SEARCHES_READ = """
from django.db import transaction
from assistant.lib import replicas
print(replicas.for_search())
with transaction.atomic():
    print(replicas.for_search())
"""


def test_a_search_inside_a_transaction_reads_the_primary(replica):
    env = replica.env | {"DATABASE_REPLICA_URLS": replica.replica.url}

    where = manage("shell", "--no-imports", "-c", WHERE_SEARCHES_READ, env=env)

    assert where.returncode == 0, where.stderr
    assert where.stdout.split() == ["replica_1", "default"]


def test_a_server_that_is_not_in_recovery_is_never_read_as_a_replica(replica):
    # What a promoted replica looks like: a primary of its own, no longer following ours.
    env = replica.env | {"DATABASE_REPLICA_URLS": replica.primary.url}

    where = manage("shell", "--no-imports", "-c", WHERE_SEARCHES_READ, env=env)

    assert where.returncode == 0, where.stderr
    assert where.stdout.split() == ["default", "default"]
    assert "is down: it is not in recovery, so it no longer follows the primary" in where.stderr


def test_a_read_that_fails_on_the_replica_is_done_again_on_the_primary(replica):
    replica.ingest("Bridges", "# Arches\n\nA keystone locks the voussoirs of a stone arch.\n")
    # The replica's own `postgres` database: in recovery and caught up, so it is chosen, but it
    # has none of our tables, so every read there fails.
    elsewhere = replica.replica.url.rsplit("/", 1)[0] + "/postgres"
    search = "from ingest.search.retrieval import search\n" + (
        'print(search("keystone voussoirs arch", user=None).hits[0].title)'
    )

    found = manage(
        "shell",
        "--no-imports",
        "-c",
        search,
        env=replica.env | {"DATABASE_REPLICA_URLS": elsewhere},
    )

    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "Arches"
    assert "read replica replica_1 (127.0.0.1" in found.stderr
    assert 'is down: relation "ingest_' in found.stderr


def test_an_answer_with_a_replica_configured_writes_to_the_primary_only(replica):
    replica.ingest("Kilns", "# Firing\n\nStoneware is fired in the kiln at 1200 degrees.\n")
    replica.wait_until_the_replica_serves("stoneware kiln", "Firing")
    troubles = len(replica.log_lines(replica.replica_name))
    questions_before = replica.client.get("/api/v1/usage").json()["questions_today"]

    response = replica.client.post(
        "/api/v1/ask", json={"question": "At what temperature is stoneware fired in the kiln?"}
    )

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "succeeded"
    assert [citation["title"] for citation in answer["citations"]] == ["Firing"]
    assert replica.client.get("/api/v1/usage").json()["questions_today"] == questions_before + 1
    assert len(replica.log_lines(replica.replica_name)) == troubles, "no read failed there"
