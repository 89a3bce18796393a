"""`manage.py run` (what `make run` calls): the whole app, supervised.

`manage.py prepare` in a child (migrations, static files, the first admin, the demo content), then
a Celery worker (with beat, for the sweepers), a low-priority worker for the background vector
legs and the ASGI server, and llama.cpp's server when a GGUF file is named. Ctrl-C (or
SIGTERM) stops every process this started; manage.py then stops the embedded PostgreSQL if it
was the one to start it.

The supervisor itself never loads Django: it only waits, and Django with our apps would keep
about 100 MB in it for nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from assistant.lib import var
from assistant.lib.ports import free_port, is_taken

ROOT = Path(__file__).resolve().parent.parent


class Stopped(Exception):
    """The app cannot go on; the message says why."""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="manage.py run", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    parser.add_argument(
        "--gguf",
        default=os.environ.get("LOCAL_GGUF", ""),
        help="a GGUF model file to answer with, through llama.cpp's server",
    )
    parser.add_argument("--gguf-port", type=int, default=0, help="default: a free port")
    args = parser.parse_args(argv)
    try:
        run(host=args.host, port=args.port, gguf=args.gguf, gguf_port=args.gguf_port)
    except Stopped as error:
        print(error, file=sys.stderr)
        return 1
    return 0


def run(*, host: str, port: int, gguf: str, gguf_port: int) -> None:
    if is_taken(port, host):
        raise Stopped(
            f"Port {port} is in use (another `make run`?): start this one on another port, "
            f"`make run PORT={free_port()}`."
        )
    stop = _install_signal_handlers()
    var.clear_metrics()  # samples of a previous run would add to this one's
    prepare = _spawn([sys.executable, "manage.py", "prepare"], os.environ.copy())
    if _wait_or_stop(prepare, stop) != 0:
        raise Stopped("Preparing the app failed (see above); nothing was started.")
    # glibc gives each thread that allocates an arena of its own, which keeps what it freed: two
    # arenas hold the web's and the workers' idle memory about 20 MB lower, at no cost we measured.
    env = {"MALLOC_ARENA_MAX": "2"} | os.environ
    services: list[Service] = []
    try:
        if gguf:
            gguf_port = gguf_port or free_port()
            services.append(Service("local model server", gguf_argv(gguf, gguf_port), env).start())
            env |= local_model_env(gguf_port)
            wait_for(f"http://127.0.0.1:{gguf_port}/v1/models", services, stop, timeout=300)
        services.append(Service("Celery worker", celery_worker(), env).start())
        services.append(
            Service("background-leg worker", backfill_worker(), env, nice=BACKFILL_NICE).start()
        )
        services.append(Service("web server", web_server(host, port), env).start())
        wait_for(f"http://127.0.0.1:{port}/api/v1/health", services, stop, timeout=60)
        print(f"\nThe assistant is up: http://127.0.0.1:{port}/", flush=True)
        password = var.var_dir() / "admin_password.txt"
        if password.exists():
            print(f"Log in at /admin/ (the first admin's password is in {password}).")
        print("Press Ctrl-C to stop everything.\n", flush=True)
        parent = os.getppid()
        while not stop.wait(0.3):
            for service in services:
                service.keep_up(time.monotonic())
            if os.getppid() != parent:  # `make` (or the shell) is gone: nobody can Ctrl-C us
                raise Stopped("The command that started the app has ended; stopped the app.")
    finally:
        print("Stopping…", flush=True)
        terminate([service.process for service in services if service.process])


# A service that ran this long before dying was healthy: its next restart comes at once.
HEALTHY_AFTER_S = 60
MAX_BACKOFF_S = 30


@dataclass
class Service:
    """One long-running process of the app, started again (with backoff) when it dies."""

    name: str
    argv: list[str]
    env: dict[str, str]
    nice: int = 0  # added to its CPU niceness: it gets the cores the others leave
    process: subprocess.Popen | None = None
    started: float = 0.0
    quick_deaths: int = 0
    restart_at: float | None = None

    def start(self) -> Service:
        self.process = _spawn(self.argv, self.env, nice=self.nice)
        self.started, self.restart_at = time.monotonic(), None
        return self

    def keep_up(self, now: float) -> None:
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start()
                print(f"Restarted the {self.name}.", flush=True)
            return
        assert self.process is not None
        code = self.process.poll()
        if code is None:
            return
        # What it left behind goes too: a killed Celery worker's beat and pool processes.
        _kill_group(self.process, signal.SIGKILL)
        var.metrics_process_ended(self.process.pid)  # its open-stream gauge no longer counts
        healthy = now - self.started >= HEALTHY_AFTER_S
        self.quick_deaths = 0 if healthy else self.quick_deaths + 1
        delay = min(2**self.quick_deaths - 1, MAX_BACKOFF_S)
        self.restart_at = now + delay
        print(
            f"The {self.name} stopped unexpectedly ({_exit_reason(code)}); "
            f"restarting it in {delay} s.",
            flush=True,
        )


def _exit_reason(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


def worker_command(*options: str) -> list[str]:
    """A Celery worker of this app, with `options` (pool, log level, beat) after the common ones:
    no gossip or mingle, which only matter to a cluster of workers."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "assistant",
        "worker",
        "--without-gossip",
        "--without-mingle",
        *options,
    ]


def celery_worker() -> list[str]:
    # One worker process while idle, one per core (at most two) under load: an idle worker
    # process costs about 100 MB, and one already parses and embeds on both cores.
    most = min(os.cpu_count() or 1, 2)
    return worker_command(
        "--loglevel=INFO",
        f"--autoscale={most},1",
        # The sweepers: stale ingestion leases, abandoned answers.
        "--beat",
        f"--schedule={var.var_dir() / 'celery' / 'beat-schedule'}",
    )


# The background legs' worker yields the CPU to ingestion and answers: at niceness 10 the
# kernel gives it about a tenth of a core another process wants.
BACKFILL_NICE = 10


def backfill_worker() -> list[str]:
    """One process on the `backfill` queue (ingest.backfill): the English vectors of documents
    already READY, batch by batch. The main worker never takes these tasks."""
    return worker_command(
        "--loglevel=INFO", "--queues=backfill", "--pool=solo", "--hostname=backfill@%h"
    )


def web_server(host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "assistant.asgi:application",
        "--host",
        host,
        "--port",
        str(port),
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "5",
    ]


def _install_signal_handlers() -> threading.Event:
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


def _spawn(argv: list[str], env: dict[str, str], *, nice: int = 0, **kwargs) -> subprocess.Popen:
    # Own session (and process group): Ctrl-C reaches only us, we stop the children in order,
    # and a child's own children go with it. Should we die without a word (kill -9), the kernel
    # sends each child SIGTERM: nothing is left running on its own.
    def before_exec() -> None:
        _die_with_parent()
        if nice:
            os.nice(nice)

    return subprocess.Popen(
        argv, cwd=ROOT, env=env, start_new_session=True, preexec_fn=before_exec, **kwargs
    )


def _die_with_parent() -> None:
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _kill_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _wait_or_stop(process: subprocess.Popen, stop: threading.Event) -> int:
    while (code := process.poll()) is None:
        if stop.wait(0.3):
            terminate([process])
            raise Stopped("Interrupted while preparing.")
    return code


def start_gguf_server(model: str, port: int, **kwargs) -> subprocess.Popen:
    """llama.cpp's OpenAI-compatible server for one GGUF file (`kwargs` go to Popen)."""
    return _spawn(gguf_argv(model, port), os.environ.copy(), **kwargs)


def local_model_env(port: int) -> dict[str, str]:
    """What the web server and the worker are told when llama.cpp's server on `port` answers."""
    return {
        "ANSWER_PROVIDER": "openai-compatible",
        "OPENAI_COMPAT_BASE_URL": f"http://127.0.0.1:{port}/v1",
    }


def gguf_argv(model: str, port: int) -> list[str]:
    if not Path(model).is_file():
        raise Stopped(f"LOCAL_GGUF={model} is not a file.")
    threads = str(os.cpu_count() or 2)
    module = "assistant.llm.gguf_server"
    return [sys.executable, "-m", module, model, "--port", str(port), "--threads", threads]


def wait_for(url: str, services: list[Service], stop: threading.Event, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(s.process and s.process.poll() is not None for s in services):
            raise Stopped(f"A process exited before {url} answered.")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if stop.wait(0.3):
                raise Stopped("Interrupted while starting.") from None
    raise Stopped(f"{url} did not answer within {timeout:.0f} s.")


def terminate(processes: list[subprocess.Popen], *, grace_s: float = 15) -> None:
    """SIGTERM to each process and its group, newest first; past the grace, SIGKILL."""
    for process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _kill_group(process, signal.SIGKILL)  # anything it left behind
