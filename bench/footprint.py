"""The idle footprint of a running `make run`: ask it two questions, then add up the memory of
every process it started (web, Celery, the embedded PostgreSQL).

    make run &          # wait for "The assistant is up"
    .venv/bin/python bench/footprint.py [--url http://127.0.0.1:8000]

The processes are found by their working folder: the checkout (manage.py, uvicorn, Celery) or its
var/ (PostgreSQL). Resident memory (RSS) counts pages a forked worker shares with its parent once
per process; proportional memory (PSS) splits them, so it is what the machine really gives.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

from common import ROOT, stamp

QUESTIONS = ["How many questions may I ask per day?", "How do I reset my password?"]


def api_token() -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "create_api_token", "admin", "--name", "footprint bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def ask(url: str, token: str, question: str) -> tuple[float, int]:
    request = urllib.request.Request(
        f"{url}/api/v1/ask",
        data=json.dumps({"question": question}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.load(response)
    return time.perf_counter() - started, len(answer["citations"])


def kind(pid: int) -> str:
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    line = b" ".join(argv).decode(errors="replace")
    if "postgres" in line:
        return "postgres"
    if "uvicorn" in line:
        return "web"
    if "celery" in line:
        return "celery"
    if "manage.py" in line:
        return "supervisor"
    return "other"


def memory_kib(pid: int) -> tuple[int, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return fields["Rss"], fields["Pss"]


def app_processes() -> dict[str, list[tuple[int, int, int]]]:
    found: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = Path(proc / "cwd").resolve(strict=True)
            if cwd != ROOT and ROOT / "var" not in cwd.parents:
                continue
            pid = int(proc.name)
            if pid == os.getpid():
                continue
            found[kind(pid)].append((pid, *memory_kib(pid)))
        except (OSError, ValueError):
            continue
    found.pop("other", None)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    token = api_token()
    for question in QUESTIONS:
        seconds, citations = ask(args.url, token, question)
        print(f"asked {question!r}: {seconds:.2f} s, {citations} citations")
    time.sleep(5)  # let the answers' follow-up work settle
    print(f"Idle footprint of make run, {stamp()}")
    total_rss = total_pss = 0
    for name, processes in sorted(app_processes().items()):
        rss = sum(p[1] for p in processes) / 1024
        pss = sum(p[2] for p in processes) / 1024
        total_rss += rss
        total_pss += pss
        print(f"  {name:<10} {len(processes):>2} processes  RSS {rss:7.0f} MiB  PSS {pss:7.0f} MiB")
    print(f"  {'total':<10} {'':>13} RSS {total_rss:7.0f} MiB  PSS {total_pss:7.0f} MiB")


if __name__ == "__main__":
    main()
