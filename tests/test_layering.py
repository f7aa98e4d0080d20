"""The layers stay apart (imports parsed, not executed): the pure core reaches no I/O, storage reaches no
use case or surface, and the use cases reach no surface.

    surfaces   api/ cli/ sdk/ dashboard/ app.py
    use cases  invoicing/ credits (service, operations) policy (service, state, …) sessions (service) webhooks/
    storage    storage/ eventstore/
    pure core  events/ meters/ pricing/ billing/ periods units exact … and the rules of policy, credits, sessions
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import meterbase

ROOT = Path(meterbase.__file__).parent

#: The pure core: modules (or whole packages) without I/O. They may import only each other.
PURE = {
    "meterbase.events", "meterbase.meters", "meterbase.pricing", "meterbase.billing",
    "meterbase.periods", "meterbase.units", "meterbase.exact", "meterbase.errors", "meterbase.ids",
    "meterbase.timeutil", "meterbase.formatting",
    "meterbase.policy.document", "meterbase.policy.reader", "meterbase.policy.engine", "meterbase.policy.events",
    "meterbase.policy.overage", "meterbase.policy.pricing", "meterbase.policy.caps", "meterbase.policy.state",
    "meterbase.policy.results", "meterbase.policy.covering",
    "meterbase.credits.accrual", "meterbase.credits.amounts", "meterbase.credits.cycles",
    "meterbase.credits.entitlement", "meterbase.credits.ledger", "meterbase.credits.views", "meterbase.credits.wallets",
    "meterbase.sessions.core", "meterbase.webhooks.signing",
}
#: What no pure-core module may reach, named so a failure says which layer was crossed.
STORAGE = ("meterbase.storage", "meterbase.eventstore")
SURFACES = ("meterbase.api", "meterbase.cli", "meterbase.sdk", "meterbase.dashboard", "meterbase.app")
IO_LIBRARIES = ("sqlalchemy", "psycopg", "fastapi", "starlette", "uvicorn", "httpx", "typer", "rich", "jinja2")


def _within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def module_name(path: Path) -> str:
    parts = ("meterbase",) + path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file()


def imports(path: Path) -> set[str]:
    """Names of the modules ``path`` imports; ``from pkg import x`` counts as ``pkg.x`` when that is a module."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - (node.level - 1)] + ([base] if base else []))
            subs = [f"{base}.{a.name}" for a in node.names]
            inner = [m for m in subs if base.startswith("meterbase") and _is_module(m)]
            names.update(inner if len(inner) == len(subs) else [base, *inner])
    return names


def modules():
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" not in path.parts:
            yield module_name(path), path


def is_pure(name: str) -> bool:
    return _within(name, PURE)


def test_the_pure_core_lists_only_modules_that_exist():
    names = {n for n, _ in modules()}
    assert {p for p in PURE if p not in names} == set()


@pytest.mark.parametrize("name,path", [(n, p) for n, p in modules() if is_pure(n)], ids=lambda v: str(v))
def test_pure_core_imports_only_the_pure_core(name, path):
    bad = sorted(m for m in imports(path) if (_within(m, ("meterbase",)) and not is_pure(m)) or _within(m, IO_LIBRARIES))
    assert not bad, f"{name} (pure core) imports {bad}"


@pytest.mark.parametrize("name,path", [(n, p) for n, p in modules() if is_pure(n)], ids=lambda v: str(v))
def test_pure_core_reaches_no_storage_api_dashboard_or_cli(name, path):
    bad = sorted(m for m in imports(path) if _within(m, STORAGE + SURFACES))
    assert not bad, f"{name} (pure core) imports storage or a surface: {bad}"


def test_the_import_reader_sees_a_use_case_reaching_storage():
    """The checks above see relative and absolute imports alike (a check that sees nothing proves nothing)."""
    found = imports(ROOT / "invoicing" / "service.py")
    assert any(_within(m, ("meterbase.storage",)) for m in found)
    assert "meterbase.billing" in found or any(_within(m, ("meterbase.billing",)) for m in found)


@pytest.mark.parametrize("name,path", [(n, p) for n, p in modules() if _within(n, STORAGE)],
                         ids=lambda v: str(v))
def test_storage_reaches_no_surface(name, path):
    bad = sorted(m for m in imports(path) if _within(m, SURFACES))
    assert not bad, f"{name} (storage) imports {bad}"


@pytest.mark.parametrize("name,path", [(n, p) for n, p in modules()
                                       if not _within(n, SURFACES) and n not in ("meterbase.__main__",)],
                         ids=lambda v: str(v))
def test_nothing_below_the_surfaces_imports_them(name, path):
    bad = sorted(m for m in imports(path) if _within(m, SURFACES))
    assert not bad, f"{name} imports the surface(s) {bad}"


@pytest.mark.parametrize("name,path", [(n, p) for n, p in modules() if not _within(n, STORAGE)], ids=lambda v: str(v))
def test_sql_lives_only_in_storage(name, path):
    """Outside storage, SQLAlchemy appears only as the exceptions a caller may catch (``sqlalchemy.exc``)."""
    bad = sorted(m for m in imports(path) if _within(m, ("sqlalchemy",)) and not _within(m, ("sqlalchemy.exc",)))
    assert not bad, f"{name} uses SQLAlchemy {bad}: move the SQL into a storage repository"
