"""The benchmarks still run: ``python -m bench all --smoke`` at tiny sizes, no thresholds asserted."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("ingest", "query", "policy", "invoices")
NUMERIC = {
    "ingest": ("events/s", "p50 ms", "p99 ms", "stored"),
    "query": ("small ms", "large ms", "ratio", "naive small ms", "naive large ms"),
    "policy": ("median", "p99"),
    "invoices": ("invoices", "seconds"),
}


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def test_bench_smoke(tmp_path):
    out = tmp_path / "smoke.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "all", "--smoke", "--json", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["smoke"] is True and data["machine"]["cores"] >= 1
    assert set(data["sections"]) == set(SECTIONS)
    for name in SECTIONS:
        sec = data["sections"][name]
        if sec["status"] == "not_available" and name in ("policy", "invoices"):
            continue  # lazily imported modules still being written
        assert sec["status"] == "ok", (name, sec["rows"], sec["notes"])
        assert sec["rows"], name
        for row in sec["rows"]:
            for col in NUMERIC[name]:
                assert _number(row.get(col)), (name, col, row)
    # correctness checks the benchmarks make on their own data
    assert all(r["verified"] == "exact" for r in data["sections"]["ingest"]["rows"])
    assert all(r["verified"] == "exact" for r in data["sections"]["query"]["rows"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
