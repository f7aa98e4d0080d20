"""The README's Credits section, run verbatim (every ```bash block, in one shell) against a live server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from meterbase.storage import open_store
from support.server import start_server, stop_server

README = Path(__file__).resolve().parents[2] / "README.md"


def credits_blocks() -> list[str]:
    section = README.read_text().split("## Credits:", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, re.S)


def test_readme_credits_examples_run_as_written(tmp_path):
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))  # like a checkout after `make run`
    (tmp_path / "examples").symlink_to(README.parent / "examples")
    (tmp_path / "var").mkdir()
    db_url = f"sqlite:///{tmp_path}/var/meterbase.db"
    store = open_store(db_url)
    token, _ = store.create_key("demo", "test_mode")
    store.close()
    proc, url = start_server(db_url, tmp_path / "server.log")
    try:
        blocks = credits_blocks()
        assert len(blocks) == 5, "the Credits section lost an example"
        marker = "=====CREDITS-STEP====="
        script = f"set -euo pipefail\nexport MB_URL={url} MB_API_KEY={token}\n" + f"\necho {marker}\n".join(blocks)
        run = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, f"examples failed:\nstdout:{run.stdout}\nstderr:{run.stderr}"
        curl, sdk, cli, products, limits = run.stdout.split(marker + "\n")
        credit, debit, balance = (json.loads(line) for line in curl.strip().splitlines())
        assert (credit["transaction_type"], credit["balance_after"]) == ("credit_added", "1000")
        assert (debit["balance_after"], debit["overage_after"], debit["allocations"][0]["amount"]) == ("0", "200", "1000")
        assert (balance["balance"], balance["overage"]) == ("0", "200")
        printed = sdk.strip().splitlines()
        assert printed[0] == "380"
        assert printed[1] == "['credit_deducted', 'credit_added']"
        assert printed[2] == "[('500', '380')]"
        flat = " ".join(cli.split())
        # invoice_at_billing: new credits do not repay the overage (auto-repay would)
        assert "credit_added 300: balance 0 -> 300, overage 200 -> 200" in flat
        assert "cus_tour: balance 300, overage 200" in flat
        assert flat.count("credit_added") == 3 and "credit_deducted" in flat
        prepaid = json.loads(products.strip().splitlines()[-1])  # 1,000 issued by the subscription, 2 calls deducted
        assert (prepaid["balance"], prepaid["cycle"]["credits_per_cycle"]) == ("998", "1000")
        covered, refused = (json.loads(line) for line in limits.strip().splitlines())
        assert (covered["allowed"], covered["covered_price"], covered["overage_price"], covered["overage"]) == (
            True, "1", "0.44", "1100")
        assert (refused["allowed"], refused["reason"], refused["consumed"]) == (False, "limit_exceeded", "0")
    finally:
        stop_server(proc)
