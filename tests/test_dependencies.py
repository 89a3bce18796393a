"""The app imports only what `make run` installs.

`make test` installs the test extra before anything runs, so a module the app imports but only an
extra brings in passes the suite and breaks a newcomer's first `make run`. Here every import in
`assistant/` and `ingest/` (inside functions too) must come from the standard library, from us, or
from a distribution in the closure of [project.dependencies] (plus the pins installed --no-deps),
resolved through the installed distributions' own metadata.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from functools import cache
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT
from tests.test_layout import PACKAGES, modules, source

# Modules that run only as their own process when an extra is installed, never imported by the
# app: `make run LOCAL_GGUF=…` installs the extra and starts this one with `python -m`.
EXTRA_ONLY = {"assistant.llm.gguf_server": "local"}


@cache
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def closure(requirements: list[str]) -> frozenset[str]:
    """The distributions these requirements install, with everything they require in turn."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(Requirement(text), frozenset({""})) for text in requirements]
    while todo:
        requirement, extras = todo.pop()
        marker = requirement.marker
        if marker and not any(marker.evaluate({"extra": extra}) for extra in extras):
            continue
        key = (canonicalize_name(requirement.name), frozenset({"", *requirement.extras}))
        if key in seen:
            continue
        seen.add(key)
        needs = metadata.requires(requirement.name) or []
        todo.extend((Requirement(text), key[1]) for text in needs)
    return frozenset(name for name, _ in seen)


@cache
def installed_by_make_run() -> frozenset[str]:
    project = pyproject()
    no_deps = {canonicalize_name(Requirement(pin).name) for pin in no_deps_pins()}
    return closure(project["project"]["dependencies"]) | no_deps


def no_deps_pins() -> list[str]:
    return pyproject()["tool"]["qwen-assistant"]["no-deps"]


def third_party_imports(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name not in PACKAGES}


def missing_distributions(tree: ast.Module, allowed: frozenset[str]) -> list[str]:
    providers = metadata.packages_distributions()
    return sorted(
        name
        for name in third_party_imports(tree)
        if not {canonicalize_name(dist) for dist in providers.get(name, [])} & allowed
    )


@pytest.mark.parametrize("module", modules())
def test_every_import_comes_from_the_apps_own_dependencies(module):
    allowed = installed_by_make_run()
    if extra := EXTRA_ONLY.get(module):
        allowed |= closure(pyproject()["project"]["optional-dependencies"][extra])

    missing = missing_distributions(source(module), allowed)

    assert missing == [], (
        f"{module} imports {missing}, which `make run` does not install: declare the "
        "distribution in [project.dependencies] or use one that is there"
    )


def test_a_module_only_the_test_extra_installs_is_named():
    module = ast.parse(
        "import os\nimport httpx2\nfrom ingest import parsers\n"
        "def later():\n    import httpx\n    from pytest import fixture\n"
    )

    assert missing_distributions(module, installed_by_make_run()) == ["httpx", "pytest"]


def test_nothing_in_the_app_imports_a_module_that_needs_an_extra():
    importers = [
        module
        for module in modules()
        for node in ast.walk(source(module))
        if isinstance(node, ast.ImportFrom | ast.Import)
        for name in (
            [f"{node.module}.{alias.name}" for alias in node.names]
            if isinstance(node, ast.ImportFrom)
            else [alias.name for alias in node.names]
        )
        if any(name == extra_only or name.startswith(f"{extra_only}.") for extra_only in EXTRA_ONLY)
    ]
    assert importers == []
