"""`make run`: migrations, a first admin account, a Celery worker and the ASGI server, supervised.

Ctrl-C (or SIGTERM) stops every process this started; manage.py then stops the embedded
PostgreSQL if it was the one to start it.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from assistant.accounts import roles
from ingest.models import Collection

ADMIN_USERNAME = "admin"
DEMO_COLLECTION = "Product guide"


class Command(BaseCommand):
    help = "Start the whole app: database migrations, a Celery worker and the web server."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
        parser.add_argument(
            "--gguf",
            default=os.environ.get("LOCAL_GGUF", ""),
            help="a GGUF model file to answer with, through llama.cpp's server",
        )
        parser.add_argument("--gguf-port", type=int, default=8012)

    def handle(self, *args, host: str, port: int, gguf: str, gguf_port: int, **options):
        self.stdout.write("Applying database migrations…")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        login = ensure_admin()
        ensure_demo_content()
        processes: list[subprocess.Popen] = []
        env = os.environ.copy()
        stop = _install_signal_handlers()
        try:
            if gguf:
                processes.append(start_gguf_server(gguf, gguf_port))
                env |= {
                    "ANSWER_PROVIDER": "openai-compatible",
                    "OPENAI_COMPAT_BASE_URL": f"http://127.0.0.1:{gguf_port}/v1",
                }
                wait_for(f"http://127.0.0.1:{gguf_port}/v1/models", processes, stop, timeout=300)
            processes.append(
                _spawn(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "assistant",
                        "worker",
                        "--loglevel=INFO",
                        f"--concurrency={min(os.cpu_count() or 1, 2)}",
                        "--without-gossip",
                        "--without-mingle",
                        # The sweepers: stale ingestion leases, abandoned answers.
                        "--beat",
                        f"--schedule={settings.VAR_DIR / 'celery' / 'beat-schedule'}",
                    ],
                    env,
                )
            )
            processes.append(
                _spawn(
                    [
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
                    ],
                    env,
                )
            )
            wait_for(f"http://127.0.0.1:{port}/api/v1/health", processes, stop, timeout=60)
            self.stdout.write(
                self.style.SUCCESS(f"\nThe assistant is up: http://127.0.0.1:{port}/")
            )
            self.stdout.write(login)
            self.stdout.write("Press Ctrl-C to stop everything.\n")
            while not stop.wait(0.3):
                if any(process.poll() is not None for process in processes):
                    raise CommandError(
                        "A process of the app stopped unexpectedly; stopping the rest."
                    )
        finally:
            self.stdout.write("Stopping…")
            terminate(processes)


def _install_signal_handlers() -> threading.Event:
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


def _spawn(argv: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
    # Own session: Ctrl-C reaches only us, and we stop the children in order.
    return subprocess.Popen(argv, env=env, start_new_session=True, **kwargs)


def start_gguf_server(model: str, port: int, **kwargs) -> subprocess.Popen:
    """llama.cpp's OpenAI-compatible server for one GGUF file (`kwargs` go to Popen)."""
    if not Path(model).is_file():
        raise CommandError(f"LOCAL_GGUF={model} is not a file.")
    return _spawn(
        [
            sys.executable,
            "-m",
            "assistant.llm.gguf_server",
            model,
            "--port",
            str(port),
            "--threads",
            str(os.cpu_count() or 2),
        ],
        os.environ.copy(),
        **kwargs,
    )


def wait_for(
    url: str, processes: list[subprocess.Popen], stop: threading.Event, *, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            raise CommandError(f"A process exited before {url} answered.")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if stop.wait(0.3):
                raise CommandError("Interrupted while starting.") from None
    raise CommandError(f"{url} did not answer within {timeout:.0f} s.")


def terminate(processes: list[subprocess.Popen], *, grace_s: float = 15) -> None:
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


def ensure_demo_content() -> None:
    """First run: ingest the demo documents into a public collection, in the foreground, so the
    demo question has its answer before the first page is served."""
    if not Collection.objects.filter(name=DEMO_COLLECTION).exists():
        call_command(
            "ingest",
            str(settings.BASE_DIR / "demo"),
            collection=DEMO_COLLECTION,
            public=True,
            wait=True,
        )


def ensure_admin() -> str:
    """Create the first admin with a random password, shown once and kept in var/ (mode 600)."""
    users = get_user_model()
    password_file = settings.VAR_DIR / "admin_password.txt"
    if users.objects.filter(is_superuser=True).exists():
        hint = f" (first-run password in {password_file})" if password_file.exists() else ""
        return f"Log in at /admin/ with your admin account{hint}."
    password = secrets.token_urlsafe(12)
    admin = users.objects.create_superuser(ADMIN_USERNAME, "", password)
    admin.groups.add(Group.objects.get(name=roles.ADMIN))
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    return (
        f"Created the admin account. Log in at /admin/ as {ADMIN_USERNAME!r} with password "
        f"{password!r}\n(also saved in {password_file}; change it with "
        f"`.venv/bin/python manage.py changepassword {ADMIN_USERNAME}`)."
    )
