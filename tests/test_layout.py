"""The layout's rules, checked: every module imports alone, dependencies point one way, no
import hides inside a function, and no parser of one format imports another's.

    lib  <-  llm  <-  accounts  <-  chat
              ^                      |
              +--  ingest  <-  ingest.search  <-+

The audit log sits just above lib: accounts, ingest and chat write to it.

The project's wiring (settings, urls, api, asgi, celery, admin, models, apps, commands) may
import anything; nothing imports the wiring.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("assistant", "ingest")
# What each package may import of ours (besides itself); the longest matching prefix applies.
ALLOWED = {
    "assistant.lib": ("assistant.lib",),
    "assistant.audit": ("assistant.lib", "assistant.audit"),
    "assistant.llm": ("assistant.lib", "assistant.llm"),
    "assistant.accounts": (
        "assistant.lib",
        "assistant.audit",
        "assistant.llm",
        "assistant.accounts",
    ),
    "ingest": ("assistant.lib", "assistant.audit", "assistant.llm", "ingest"),
    "ingest.search": ("assistant.lib", "ingest"),
    "assistant.chat": (
        "assistant.lib",
        "assistant.audit",
        "assistant.llm",
        "assistant.accounts",
        "assistant.chat",
        "ingest",
    ),
}
# Ingest is below search: it may import any part of `ingest` but that one.
FORBIDDEN = {"ingest": ("ingest.search",)}
# Django imports an app's `ready()` code after the registry is built: that import is the rule.
FUNCTION_IMPORTS_ALLOWED = {"assistant.apps"}
# The project's wiring, besides the management commands: it may import anything of ours.
WIRING = {
    "assistant",
    "assistant.admin",
    "assistant.api",
    "assistant.apps",
    "assistant.asgi",
    "assistant.celery",
    # Django finds these by convention: the Chinese number and date formats, template filters.
    "assistant.formats",
    "assistant.formats.zh_Hans",
    "assistant.formats.zh_Hans.formats",
    "assistant.models",
    "assistant.scrape",
    "assistant.settings",
    "assistant.supervisor",
    "assistant.templatetags",
    "assistant.templatetags.money",
    "assistant.urls",
    "assistant.wsgi",
}


def modules() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found.append(name.removesuffix(".__init__"))
    return found


def source(module: str) -> ast.Module:
    path = ROOT / Path(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    return ast.parse(path.read_text())


def ours(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def imported(node: ast.AST, module: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if ours(alias.name)]
    if isinstance(node, ast.ImportFrom) and node.module and ours(node.module):
        # `from assistant.chat import conversations` imports assistant.chat.conversations.
        return [f"{node.module}.{alias.name}" for alias in node.names]
    return []


def layer(module: str) -> str | None:
    if ".management." in module:
        return None  # commands are entry points: wiring
    matches = [prefix for prefix in ALLOWED if module == prefix or module.startswith(prefix + ".")]
    return max(matches, key=len, default=None)


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_every_module_outside_the_layers_is_wiring():
    """A new module that falls in no layer escapes every rule below: it must be named wiring."""
    unlayered = {module for module in modules() if layer(module) is None}
    commands = {module for module in unlayered if ".management" in module}
    assert unlayered - commands == WIRING


@pytest.mark.parametrize("module", [module for module in modules() if layer(module)])
def test_dependencies_point_one_way(module):
    own = layer(module)
    wrong = [
        target
        for node in source(module).body
        for target in imported(node, module)
        if not any(within(target, allowed) for allowed in ALLOWED[own])
        or any(within(target, forbidden) for forbidden in FORBIDDEN.get(own, ()))
    ]
    assert wrong == [], f"{module} ({own}) may not import {wrong}"


@pytest.mark.parametrize(
    "module", [module for module in modules() if module not in FUNCTION_IMPORTS_ALLOWED]
)
def test_no_import_of_ours_hides_inside_a_function(module):
    tree = source(module)
    top_level = set(map(id, tree.body))
    hidden = [
        target
        for node in ast.walk(tree)
        if id(node) not in top_level
        for target in imported(node, module)
    ]
    assert hidden == [], f"{module} imports {hidden} inside a function"


def test_every_module_imports_alone_in_a_fresh_process():
    result = subprocess.run(
        [sys.executable, "-m", "tests.support.import_each", *modules()],
        cwd=ROOT,
        env=os.environ | {"DJANGO_SETTINGS_MODULE": "assistant.settings"},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr[-3000:]


# Each format's parser reads its format alone: what parsers share lives in ingest.formats, and
# only the package itself (`parse`) knows every format. A format may have helpers of its own.
FORMAT_HELPERS = {"ingest.parsers.pdf": ("ingest.parsers.pdf_text",)}


@pytest.mark.parametrize("module", [m for m in modules() if m.startswith("ingest.parsers.")])
def test_a_format_parser_imports_no_other_format(module):
    others = [
        target
        for node in source(module).body
        for target in imported(node, module)
        if within(target, "ingest.parsers")
        and not any(within(target, helper) for helper in FORMAT_HELPERS.get(module, ()))
    ]
    assert others == [], f"{module} imports {others}: move what they share to ingest.formats"
