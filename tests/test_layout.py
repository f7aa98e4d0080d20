"""The layout shows the architecture: no source file over 400 lines, a docstring on every module,
and every folder of ``src/meterbase`` described where a newcomer looks first (``meterbase/__init__.py``
and the README's "How it works" tree). Files are read, not imported.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import meterbase

ROOT = Path(meterbase.__file__).parent
SRC = ROOT.parent
REPO = SRC.parent
MAX_LINES = 400
SKIP_PARTS = {"__pycache__"}


def source_files():
    for path in sorted(SRC.rglob("*")):
        if path.is_file() and not SKIP_PARTS & set(path.parts) and not any(p.endswith(".egg-info") for p in path.parts):
            if path.suffix in {".py", ".html", ".js", ".css", ".mako", ".sql"}:
                yield path


def folders() -> list[str]:
    """The packages directly under ``src/meterbase`` (folders holding an ``__init__.py``)."""
    return sorted(p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").is_file())


def test_there_are_source_files_and_folders_to_check():
    assert len(list(source_files())) > 100
    assert {"events", "meters", "pricing", "billing", "invoicing", "policy", "storage", "api"} <= set(folders())


@pytest.mark.parametrize("path", list(source_files()), ids=lambda p: str(p.relative_to(SRC)))
def test_no_source_file_is_over_400_lines(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(SRC)} has {lines} lines (max {MAX_LINES}): split it along its seams"


@pytest.mark.parametrize("path", [p for p in source_files() if p.suffix == ".py"], ids=lambda p: str(p.relative_to(SRC)))
def test_every_module_has_a_docstring(path):
    assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))), f"{path.relative_to(SRC)} has no docstring"


def test_the_package_docstring_describes_every_folder():
    doc = ast.get_docstring(ast.parse((ROOT / "__init__.py").read_text(encoding="utf-8"))) or ""
    missing = [name for name in folders() if not re.search(rf"``{name}/``", doc)]
    assert not missing, f"meterbase/__init__.py does not describe {missing}"


def test_the_readme_tree_lists_every_folder():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## How it works", 1)[1]
    tree = section.split("```", 2)[1]
    listed = set(re.findall(r"^\s{2}(\w+)/", tree, re.M))
    assert set(folders()) - listed == set(), "the README's 'How it works' tree misses folders"


#: Names defined twice on purpose, each with why. ``IngestResult``: one meaning at two layers, the ingest
#: outcome the store returns (``storage/events_repo.py``) and its wire shape in ``/openapi.json``
#: (``api/schemas.py``, whose ``to_dict`` it is).
ALLOWED_TWICE = {"IngestResult"}


def test_no_two_top_level_classes_share_a_name():
    """One name, one meaning: ``Plan``, ``Tier``, ``Customer``… are not defined twice in different packages."""
    where: dict[str, list[str]] = {}
    for path in source_files():
        if path.suffix != ".py":
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                where.setdefault(node.name, []).append(str(path.relative_to(SRC)))
    twice = {name: paths for name, paths in where.items() if len(paths) > 1 and name not in ALLOWED_TWICE}
    assert not twice, f"classes defined more than once: {twice}"
