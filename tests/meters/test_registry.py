"""The aggregation list exists once: every place that lists aggregations reads the registry.

Places: the meter model (validation), the API schema (``/openapi.json``'s ``Aggregation.type`` enum and
its extra parameters), the CLI (``meters create --help``), the rollup upsert SQL (one merge per column a
member needs), the batched usage path, credits (additive members), and the dashboard (combined labels,
display labels). A new member (a new file in ``meters/aggregations/``) shows up in all of them.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

import meterbase
from meterbase.api import create_app
from meterbase.cli.main import app as cli_app
from meterbase.config import Settings
from meterbase.credits.products import ADDITIVE
from meterbase.dashboard.views import COMBINED
from meterbase.errors import ValidationError
from meterbase.meters import aggregations
from meterbase.meters.aggregate import Partial
from meterbase.meters.model import AGGREGATIONS, NUMERIC_AGGREGATIONS, parse_meter_spec
from meterbase.storage import aggregation_sql, open_store

NAMES = list(aggregations.NAMES)
SRC = Path(meterbase.__file__).parent


def test_registry_has_every_member_once_with_its_own_file():
    files = sorted(p.stem for p in (SRC / "meters" / "aggregations").glob("*.py") if p.stem not in ("__init__", "base"))
    assert sorted(NAMES) == files
    assert NAMES[:7] == ["count", "sum", "max", "min", "avg", "last", "unique_count"]
    assert "time_weighted" in NAMES


def test_model_validation_uses_the_registry():
    assert list(AGGREGATIONS) == NAMES
    assert set(NUMERIC_AGGREGATIONS) == {a.name for a in aggregations.REGISTRY.values() if a.numeric}
    for a in aggregations.REGISTRY.values():
        spec = parse_meter_spec({"name": "m", "event_name": "e", "aggregation": {"type": a.name, "key": "k"}})
        assert spec.aggregation == a.name
        assert spec.aggregation_params == ({p.name: p.default for p in a.params} or None)
        assert Partial().value(a.name) is None or Partial().value(a.name) == 0
    try:
        parse_meter_spec({"name": "m", "event_name": "e", "aggregation": {"type": "median", "key": "k"}})
    except ValidationError as e:
        assert all(n in str(e) for n in NAMES)
    else:
        raise AssertionError("an unknown aggregation must be refused")


def test_openapi_enum_and_parameters_come_from_the_registry(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/o.db")
    try:
        doc = TestClient(create_app(store, Settings(database_url=store.url))).get("/openapi.json").json()
    finally:
        store.close()
    schema = doc["components"]["schemas"]["Aggregation"]
    assert schema["properties"]["type"]["enum"] == NAMES
    for name, p in aggregations.params().items():
        enum = next(x["enum"] for x in schema["properties"][name]["anyOf"] if "enum" in x)
        assert enum == list(p.choices)


def test_cli_help_lists_every_aggregation_and_parameter():
    out = CliRunner().invoke(cli_app, ["meters", "create", "--help"], env={"COLUMNS": "400"}).output
    flat = re.sub(r"[\s│]+", " ", out)
    for a in aggregations.REGISTRY.values():
        assert f"{a.name}: {a.description}" in flat
    for name, p in aggregations.params().items():
        assert f"{name}={'|'.join(p.choices)}" in flat


def test_rollup_sql_merges_every_column_a_rolled_up_member_reads():
    cols = aggregation_sql.rollup_columns()
    for a in aggregations.REGISTRY.values():
        if a.rolled_up:
            assert set(a.columns) <= set(cols) and set(a.columns) <= set(aggregation_sql.COLUMN_MERGE), a.name
    from meterbase.storage.schema import meter_rollups

    assert set(cols) <= set(meter_rollups.c.keys())


def test_each_member_upserts_the_columns_it_reads():
    """A member's rollup rows merge what it reads and what that merge SQL reads (``excluded.n``, the
    ``(last_ts, last_seq)`` order); every other column holds an empty partial's value (a constant)."""
    for a in aggregations.REGISTRY.values():
        if not a.rolled_up:
            continue
        cols = aggregation_sql.member_columns(a)
        assert set(a.columns) <= set(cols) <= set(aggregation_sql.COLUMN_MERGE), a.name
        for col in cols:
            assert set(aggregation_sql.MERGE_READS.get(col, ())) <= set(cols), (a.name, col)
    for col in aggregation_sql.COLUMN_MERGE:
        assert hasattr(Partial(), col) and aggregation_sql.neutral(col) is not None


def test_credits_and_dashboard_read_the_registry():
    assert set(ADDITIVE) == {a.name for a in aggregations.REGISTRY.values() if a.additive} >= {"count", "sum"}
    assert set(COMBINED) == set(NAMES)


def test_no_source_file_spells_the_list_outside_the_registry():
    """The old hand-written lists are gone: no line outside meters/aggregations/ names three or more
    aggregations (quoted, or ``a|b|c`` in a help string). ``storage/aggregation_sql.py`` is keyed by rollup
    column names (``sum``, ``min``…), not aggregation names."""
    names = "|".join(NAMES)
    quoted = re.compile(rf"""["'|]({names})["'|]""")
    offenders = []
    for path in list(SRC.rglob("*.py")) + list(SRC.rglob("*.html")):
        if "aggregations" in path.parts or "migrations" in path.parts or path.name == "aggregation_sql.py":
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if len(set(quoted.findall(line))) >= 3:
                offenders.append(f"{path.relative_to(SRC)}:{i}: {line.strip()}")
    assert offenders == []
