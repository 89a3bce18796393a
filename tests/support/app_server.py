"""The app under uvicorn in its own process, as the tests and the streaming benchmark run it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from assistant.lib.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


class ServerDidNotStart(RuntimeError):
    pass


def start(env: dict[str, str], *, output=None, access_log: bool = True):
    """Start uvicorn on a free loopback port with `env`; return (process, url) once it answers."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "assistant.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(
        [*command, *([] if access_log else ["--no-access-log"])],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/api/v1/health", timeout=2)
            return process, url
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise ServerDidNotStart("uvicorn did not start") from None
            time.sleep(0.2)
