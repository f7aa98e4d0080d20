"""The README run verbatim, as a reader would after `make run`: a checkout-like directory (.venv/,
examples/), `meterbase demo` loading the demo data into var/meterbase.db (the CLI's default database),
a live server on it, then every ```bash block of the tour, of the Billing section and of the Limits
section in one shell session per section."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support.server import start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MARKER = "=====README-STEP====="


def blocks(heading: str) -> list[str]:
    section = README.read_text().split(f"\n## {heading}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, re.S)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A directory laid out like a checkout after `make run`, and the server `make run` starts."""
    home = tmp_path_factory.mktemp("checkout")
    (home / ".venv").symlink_to(Path(sys.prefix))
    (home / "examples").symlink_to(ROOT / "examples")
    env = {k: v for k, v in os.environ.items() if k != "MB_DATABASE_URL"}
    demo = subprocess.run([sys.executable, "-m", "meterbase", "demo", "--quiet"], cwd=home, env=env,
                          capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stderr
    assert (home / "var" / "meterbase.db").exists() and (home / "var" / "demo_api_key").exists()
    proc, url = start_server(f"sqlite:///{home}/var/meterbase.db", home / "server.log")
    yield home, url, env
    stop_server(proc)


def run(checkout, steps: list[str]) -> list[str]:
    """The steps in one bash session (the tour's exports first), returning each step's output."""
    home, url, env = checkout
    script = "set -euo pipefail\n" + f"\necho {MARKER}\n".join(steps).replace("http://127.0.0.1:8080", url)
    done = subprocess.run(["bash", "-c", script], cwd=home, env={**env, "COLUMNS": "200"}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"README steps failed:\nstdout:{done.stdout}\nstderr:{done.stderr}"
    return done.stdout.split(MARKER + "\n")


def test_readme_tour_runs_as_written(checkout):
    steps = blocks("A 5-minute tour")
    assert len(steps) >= 6, "the tour lost its steps"
    exports, curl_ingest, sdk_ingest, meter, usage, cli = run(checkout, steps)
    assert json.loads(curl_ingest)["ingested_count"] == 1
    assert "'ingested_count': 1" in sdk_ingest
    assert json.loads(meter)["aggregation"] == {"type": "sum", "key": "tokens"}
    [row] = json.loads(usage)["data"]
    assert (row["customer_id"], row["value"], row["events"]) == ("cus_tour", "4000", 2)
    assert row["windows"] == [{"start": "2025-01-01T00:00:00Z", "end": "2025-02-01T00:00:00Z", "value": "4000"}]
    assert "cus_tour" in cli and "4000" in cli
    assert "pip install dodopayments" in README.read_text().split("## A 5-minute tour", 1)[1].split("\n## ")[0]


def test_readme_billing_runs_as_written_on_the_demo_data(checkout):
    steps = blocks("Billing: products, subscriptions, invoices")
    assert len(steps) == 5
    out = run(checkout, [blocks("A 5-minute tour")[0], *steps])[1:]
    customers_etc, invoice, created, billed, late = out
    assert "Acme Corp" in customers_etc and "billing@acme.example" in customers_etc and "Pro" in customers_etc
    assert "amount due so far" in customers_etc and "finalized" in customers_etc
    assert re.search(r"\$\d+\.\d\d", customers_etc)
    assert "lines" in invoice and "$49.00" in invoice and "tier" in invoice and "total $" in invoice
    decoder = json.JSONDecoder()
    product, end = decoder.raw_decode(created)
    assert (product["name"], product["fixed_fee"], len(product["meters"])) == ("Team", "49.00", 2)
    customer, _ = decoder.raw_decode(created, end)
    assert (customer["id"], customer["email"]) == ("cus_readme", "billing@readme.example")
    assert "created sub_" in created
    upcoming = json.loads(created.strip().splitlines()[-1])
    assert upcoming["object"] == "upcoming_invoice" and upcoming["customer_id"] == "cus_readme"
    assert upcoming["total"] == "49.00" and [ln["kind"] for ln in upcoming["lines"]] == ["fixed", "usage", "usage"]
    assert "0 created" in billed  # the demo already billed every ended period
    assert "received after invoicing" in late and "cus_acme" in late and "pending" in late  # the demo's late usage
    assert "nothing needs attention" in late


def test_readme_limits_use_the_shipped_policy(checkout):
    assert yaml.safe_load((ROOT / "examples" / "policy.yaml").read_text()) == \
        yaml.safe_load((ROOT / "tests" / "policy" / "seed_policy.yaml").read_text())  # seed 004's, verbatim
    steps = blocks("Limits: plans, credits, check / allow")
    put, _, check, _, allow = run(checkout, [blocks("A 5-minute tour")[0], *steps[0].split("\ncurl")[0:1],
                                   *["curl" + s for s in steps[0].split("\ncurl")[1:]]])[1:]
    assert json.loads(put)["version"] >= 1
    decision = json.loads(check)
    assert (decision["allowed"], decision["reason"]) == (False, "limit_exceeded")
    consumed = json.loads(allow)
    assert (consumed["allowed"], consumed["consumed"], consumed["overage"]) == (True, "39600", "3600")
    assert (consumed["price_diff"], consumed["overage_price"], consumed["overhead_cost"]) == ("1.44", "1.44", "11.088")
