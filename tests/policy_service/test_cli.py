"""``meterbase policy``: load, check, allow, status, overage and price from the command line."""

from __future__ import annotations

from typer.testing import CliRunner

from meterbase.cli.main import app

from .test_limitr_http import POLICY


def test_policy_commands(tmp_path, seed_text):
    db = f"sqlite:///{tmp_path}/cli.db"
    doc = tmp_path / "policy.yaml"
    doc.write_text(POLICY)
    def run(*args):
        result = CliRunner().invoke(app, ["policy", *args, "--db", db])
        result.flat = " ".join(result.output.split())  # rich wraps long lines
        return result

    out = run("load", str(doc))
    assert out.exit_code == 0 and "policy v1 published in test_mode" in out.flat, out.flat
    assert "already active" in run("load", str(doc)).flat
    for amount in ("8", "5"):
        assert run("allow", "cus_1", "flat_soft", amount).exit_code == 0
    status = run("status", "cus_1", "flat_soft")
    assert status.exit_code == 0 and "overage_price" in status.flat and " 3 " in status.flat + " "
    preview = run("check", "cus_1", "tiered_tok", "150")
    assert preview.exit_code == 0 and "price_diff" in preview.flat and "1.25" in preview.flat  # 100 @ .01 + 50 @ .005
    refused = run("allow", "cus_1", "flat_hard", "12")
    assert refused.exit_code == 1 and "limit_exceeded" in refused.flat
    lines = run("overage", "cus_1", "--currency", "EUR")
    assert lines.exit_code == 0 and "3.00 EUR" in lines.flat
    priced = run("price", "tiered_tok", "50", "--offset", "75")
    assert priced.exit_code == 0 and ": 0.375" in priced.flat and "buys 50 units" in priced.flat
    bad = run("allow", "cus_1", "flat_soft", "1e30")
    assert bad.exit_code == 2 and "error (amount)" in bad.flat and "Traceback" not in bad.flat
    missing = run("load", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2 and "cannot read" in missing.flat
