"""The layers depend one way: api -> services -> store -> domain; the domain needs nothing but Python."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "chalicelib"


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, as absolute names under chalicelib (relative ones resolved)."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def files(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", ["domain", "store", "services"])
def test_nothing_below_the_http_layer_imports_it(layer):
    offenders = {p.name: sorted(i for i in imports_of(p) if i.startswith("chalicelib.api"))
                 for p in files(layer)}
    assert not {k: v for k, v in offenders.items() if v}


def test_the_domain_imports_only_the_standard_library_and_itself():
    allowed = set(sys.stdlib_module_names) | {"__future__"}
    for path in files("domain"):
        for name in imports_of(path):
            top = name.split(".")[0]
            assert top in allowed or name.startswith("chalicelib.domain"), f"{path.name} imports {name}"


def test_only_the_store_knows_pynamodb_and_the_stored_shapes():
    for layer in ("services", "api", "jobs"):
        for path in files(layer):
            bad = sorted(i for i in imports_of(path) if i.startswith(("pynamodb", "chalicelib.store.models",
                                                                      "chalicelib.store.keys")))
            assert not bad, f"{layer}/{path.name} imports {bad}"
