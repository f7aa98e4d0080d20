"""The credits rules stay pure: their imports (parsed, not executed) reach no storage, SQLAlchemy, API or service."""

from __future__ import annotations

import ast
from pathlib import Path

import meterbase.credits as credits

CORE = ("amounts", "cycles", "entitlement", "ledger", "views", "wallets")
FORBIDDEN = ("sqlalchemy", "meterbase.storage", "meterbase.api", "fastapi", "meterbase.credits.service",
             "meterbase.credits.operations", "meterbase.credits.wallet_service", "psycopg", "httpx")


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against meterbase.credits
                parent = ["meterbase", "credits"][: 2 - (node.level - 1)]
                base = ".".join(parent + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def test_credit_rules_import_no_io():
    root = Path(credits.__file__).parent
    for name in CORE:
        bad = {m for m in imported(root / f"{name}.py") for f in FORBIDDEN if m == f or m.startswith(f + ".")}
        assert not bad, f"credits/{name}.py imports {sorted(bad)}"
