#!/usr/bin/env python
"""Django's command-line utility.

It prepares var/ (folders, the embedded mode's secret key) before Django reads its settings.
With no DATABASE_URL, a command that finds the embedded PostgreSQL stopped starts it and stops
it again on the way out, leaving the server as it found it.

`manage.py run` (what `make run` calls) is the app's supervisor, assistant/supervisor.py: it is
no Django command, so that the process that only waits on the others never loads Django.
"""

import atexit
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assistant.settings")
    from assistant.lib import var
    from assistant.lib.embedded_db import EmbeddedPostgres

    var.prepare(var.var_dir())
    if not os.environ.get("DATABASE_URL") and not _needs_no_database(sys.argv):
        server = EmbeddedPostgres.default()
        if server.ensure_running():
            atexit.register(server.stop)

    if sys.argv[1:2] == ["run"]:
        from assistant import supervisor

        sys.exit(supervisor.main(sys.argv[2:]))

    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


def _needs_no_database(argv: list[str]) -> bool:
    return len(argv) < 2 or argv[1] in {"help", "--help", "-h", "version", "--version", "check"}


if __name__ == "__main__":
    main()
