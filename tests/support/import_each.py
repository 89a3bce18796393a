"""`python -m tests.support.import_each MODULE...`: import each module in a process of its own.

Third-party libraries are loaded once, then a child is forked per module, with none of our
modules loaded yet: it sets Django up and imports that one module. An import cycle among our
modules fails whichever module it is entered through. Prints the failures; exits 1 if any.
"""

from __future__ import annotations

import importlib
import os
import sys


def _child(module: str) -> None:
    try:
        import django

        django.setup()
        importlib.import_module(module)
    except BaseException as error:
        print(f"{module}: {type(error).__name__}: {error}", flush=True)
        os._exit(1)
    os._exit(0)


def main(modules: list[str]) -> int:
    # Shared by every child: the slow third-party imports, none of ours.
    import django.db  # noqa: F401
    import ninja  # noqa: F401
    import numpy  # noqa: F401
    import openai  # noqa: F401

    running: dict[int, str] = {}
    failed = 0
    for module in modules:
        if len(running) >= (os.cpu_count() or 2):
            pid, status = os.wait()
            failed += status != 0
            running.pop(pid)
        pid = os.fork()
        if pid == 0:
            _child(module)
        running[pid] = module
    while running:
        pid, status = os.wait()
        failed += status != 0
        running.pop(pid)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
