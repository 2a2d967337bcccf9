"""Dependencies point one way: no module imports a package of a higher layer (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

from config.settings import REPO_ROOT

# Lowest first. Packages in one layer may import each other; a layer imports only its own and lower ones.
LAYERS: list[set[str]] = [
    {"connector.ports", "config"},
    {"mappings", "connector.documents"},  # mapping checks read template forms; documents print merge fields
    {"adapters.transport", "connector.store"},
    {"adapters.signrequest", "adapters.onespan", "adapters.legalsign", "adapters.salesforce"},
    {"connector.triggers", "connector.inbound", "connector.writeback", "connector.receipts"},
    {"connector.adminweb"},  # the admin page: reads the store, counts from inbound, the rules
    {"connector.engine"},
    {"connector.runtime", "adapters"},  # the provider registry walks the adapters package
    {"connector.admin"},
]
PRODUCT = ("connector", "adapters", "mappings", "config")
NEVER = ("sandbox", "tests", "benchmarks")


def _package(module: str) -> str:
    parts = module.split(".")
    if parts[0] in ("connector", "adapters") and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def _layer(package: str) -> int:
    return next(i for i, members in enumerate(LAYERS) if package in members)


def _imports() -> list[tuple[str, str]]:
    found = []
    for top in PRODUCT:
        for path in sorted((REPO_ROOT / top).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.append((module, node.module))
                elif isinstance(node, ast.Import):
                    found += [(module, alias.name) for alias in node.names]
    return found


def test_every_product_package_has_a_layer():
    packages = {_package(module) for module, _ in _imports()}
    assert packages - set().union(*LAYERS) == set()


def test_no_package_imports_a_higher_layer():
    upward = [f"{module} imports {target}" for module, target in _imports()
              if target.split(".")[0] in PRODUCT
              and _layer(_package(target)) > _layer(_package(module))]
    assert upward == []


def test_the_product_never_imports_the_simulators_tests_or_benchmarks():
    assert [f"{m} imports {t}" for m, t in _imports() if t.split(".")[0] in NEVER] == []


def test_the_wheel_holds_no_simulator():
    import tomllib

    config = tomllib.loads(Path(REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    included = config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert not any(pattern.split("*")[0].startswith(NEVER) for pattern in included)
    assert {pattern.rstrip("*") for pattern in included} == set(PRODUCT)
