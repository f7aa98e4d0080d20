"""``meterbase credits …`` through Typer's runner, both backends: entitlements, grants (replayed keys do nothing),
debits, refusals as one line with exit 2, balance, ledger, grants, cycles, wallets, the sweep."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from meterbase.cli.main import app

runner = CliRunner()


def run(url: str, *args: str, code: int = 0) -> str:
    args = list(args)
    at = args.index("--") if "--" in args else len(args)  # options go before a "--" (negative amounts)
    result = runner.invoke(app, ["credits", *args[:at], "--db", url, *args[at:]])
    assert result.exit_code == code, result.output
    if code:  # an expected failure: one message (rich may wrap it), never a traceback
        assert result.output.startswith("error") and "Traceback" not in result.output, result.output
    return result.output if "--json" in args else " ".join(result.output.split())


def test_cli_credits_flow(store):
    url = store.write_engine.url.render_as_string(hide_password=False)
    ent = run(url, "entitlements", "create", "--name", "GPU credits", "--unit", "credits", "--precision", "1",
              "--overage", "--price-per-unit", "0.02", "--currency", "USD", "--overage-limit", "10").split()[-1]
    assert ent.startswith("cde_")
    assert ent in run(url, "entitlements", "list")
    assert orjson.loads(run(url, "entitlements", "show", ent))["price_per_unit"] == "0.02"

    assert "balance 0.0 -> 100.5" in run(url, "grant", ent, "cus_1", "100.5", "--idempotency-key", "g1")
    assert "replayed" in run(url, "grant", ent, "cus_1", "100.5", "--idempotency-key", "g1")
    assert "overage 0.0 -> 9.5" in run(url, "debit", ent, "cus_1", "110", "--reason", "render job")
    refused = run(url, "debit", ent, "cus_1", "0.6", code=2)
    assert "overage limit reached" in refused
    assert "must be a decimal" in run(url, "debit", ent, "cus_1", "lots", code=2)
    assert "not found" in run(url, "debit", "cde_nope", "cus_1", "1", code=2)
    assert "manual_adjustment 3.0" in run(url, "adjust", ent, "cus_1", "--", "3")
    assert "balance 3.0 -> 2.0" in run(url, "adjust", ent, "cus_1", "--", "-1")
    assert "balance 2.0, overage 9.5" in run(url, "balance", ent, "cus_1")

    ledger = orjson.loads(run(url, "ledger", ent, "cus_1", "--json"))
    assert [(e["transaction_type"], e["amount"]) for e in ledger] == [
        ("credit_added", "100.5"), ("credit_deducted", "110.0"), ("manual_adjustment", "3.0"),
        ("manual_adjustment", "1.0")]
    assert "render" in run(url, "ledger", ent, "cus_1")  # the reason column (wrapped at 80 columns)
    grants = orjson.loads(run(url, "grants", ent, "cus_1", "--json"))
    assert [(g["initial_amount"], g["remaining_amount"]) for g in grants] == [("100.5", "0.0"), ("3.0", "2.0")]

    assert "cycle every 1 month" in run(url, "cycle", ent, "cus_2", "--anchor", "2025-01-01T00:00:00Z",
                                        "--credits-per-cycle", "50")
    assert "balance 50.0" in run(url, "balance", ent, "cus_2")
    assert "cycle none" in run(url, "cycle", ent, "cus_2", "--clear")
    assert "settled 0" in run(url, "settle")

    assert "total_balance_usd: 700" in run(url, "wallet", "cus_1", "--credit", "700")
    assert "insufficient wallet balance" in run(url, "wallet", "cus_1", "--debit", "701", code=2)
