"""The README's first command, the way a newcomer meets it: `make run` in a fresh clone.

A clone of this checkout's HEAD in a temporary folder gets its own .venv with the app's
dependencies only (no test extra) and its own var/. `make run` starts on a free port; the home
page must serve, and the demo question must be answered through `POST /api/v1/ask` with at least
one citation. Then Ctrl-C (SIGINT to the whole foreground group, as a terminal sends it) must
leave no process of the clone behind. Standard library only: it runs before anything is
installed. Exits non-zero, with the app's output, on any failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "How many questions may I ask per day?"
START_TIMEOUT_S = 600  # a cold machine installs every dependency first


class SmokeFailed(Exception):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, *, data: dict | None = None, token: str = "") -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if data is not None:
        request.data = json.dumps(data).encode()
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_until_up(url: str, app: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if app.poll() is not None:
            raise SmokeFailed(f"make run exited with {app.returncode} before serving")
        try:
            if fetch(f"{url}/api/v1/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(1)
    raise SmokeFailed(f"make run did not serve within {START_TIMEOUT_S} s")


def leftovers(checkout: Path) -> list[str]:
    """Processes still running out of the clone: in it (or its var/), or started from it."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cwd = Path(proc / "cwd").resolve()
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd == checkout or checkout in cwd.parents or str(checkout) in command:
            found.append(f"{proc.name}: {command.strip()}")
    return found


def smoke(checkout: Path, log: Path) -> None:
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(checkout)], check=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with log.open("w") as output:
        app = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=checkout,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_up(url, app)
        print(f"make run served after {time.monotonic() - started:.0f} s", flush=True)
        python = checkout / ".venv" / "bin" / "python"
        has_pytest = subprocess.run([str(python), "-c", "import pytest"], capture_output=True)
        if has_pytest.returncode == 0:
            raise SmokeFailed("the clone's .venv has the test extra: this proves nothing")
        status, body = fetch(f"{url}/")
        if status != 200 or b"<html" not in body.lower():
            raise SmokeFailed(f"the home page answered {status}")
        token = subprocess.run(
            [str(python), "manage.py", "create_api_token", "admin", "--name", "CI smoke"],
            cwd=checkout,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[-1]
        status, body = fetch(f"{url}/api/v1/ask", data={"question": QUESTION}, token=token)
        answer = json.loads(body) if status == 200 else {}
        if status != 200 or not answer.get("citations"):
            raise SmokeFailed(f"the demo question got {status}: {body[:500]!r}")
        print(f"the demo question was answered with {len(answer['citations'])} citation(s)")
    finally:
        if app.poll() is None:
            os.killpg(app.pid, signal.SIGINT)  # Ctrl-C
        try:
            app.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise SmokeFailed("make run did not stop within 60 s of Ctrl-C") from None
    time.sleep(1)
    if left := leftovers(checkout):
        for line in left:
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
        raise SmokeFailed("Ctrl-C left processes behind:\n  " + "\n  ".join(left))
    print(f"Ctrl-C stopped every process; smoke took {time.monotonic() - started:.0f} s")


def main() -> int:
    # Others may enter it: the embedded database runs as its own system user when we are root.
    root = Path(tempfile.mkdtemp(prefix="make-run-smoke-"))
    root.chmod(0o755)
    log = root / "make-run.log"
    try:
        smoke(root / "checkout", log)
    except (SmokeFailed, subprocess.CalledProcessError) as error:
        print(f"make run smoke FAILED: {error}", file=sys.stderr)
        if log.exists():
            print(log.read_text(errors="replace")[-6000:], file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
