"""The database schema, brought up to date before a command that needs it."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError, OutputWrapper
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def ensure_migrated(stdout: OutputWrapper) -> None:
    """Apply pending migrations on the embedded database (a newcomer's first command may come
    before the first `make run`); on a database of your own, say what to run instead."""
    executor = MigrationExecutor(connection)
    if not executor.migration_plan(executor.loader.graph.leaf_nodes()):
        return
    if not settings.EMBEDDED_DATABASE:
        raise CommandError("The database schema is not up to date: run `manage.py migrate` first.")
    stdout.write("Applying database migrations…")
    call_command("migrate", interactive=False, verbosity=0)
