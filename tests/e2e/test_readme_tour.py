"""The README's 5-minute tour, run verbatim (every ```bash block of that section) against a live server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from meterbase.storage import open_store

from support.server import start_server, stop_server

README = Path(__file__).resolve().parents[2] / "README.md"


def tour_blocks() -> list[str]:
    text = README.read_text()
    section = text.split("## A 5-minute tour", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, re.S)


def test_readme_tour_runs_as_written(tmp_path):
    # lay out a working directory like a checkout after `make run`: .venv/ and var/
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    (tmp_path / "var").mkdir()
    db_url = f"sqlite:///{tmp_path}/var/meterbase.db"
    store = open_store(db_url)
    token, _ = store.create_key("demo", "test_mode")
    store.close()
    (tmp_path / "var" / "demo_api_key").write_text(token + "\n")
    proc, url = start_server(db_url, tmp_path / "server.log")
    try:
        blocks = tour_blocks()
        assert len(blocks) >= 5, "the tour lost its steps"
        # one shell session, as a reader typing into one terminal; markers split the outputs
        marker = "=====TOUR-STEP====="
        script = "set -euo pipefail\n" + f"\necho {marker}\n".join(blocks).replace("http://127.0.0.1:8080", url)
        run = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, f"tour failed:\nstdout:{run.stdout}\nstderr:{run.stderr}"
        outputs = run.stdout.split(marker + "\n")[1:]
        curl_ingest, sdk_ingest, meter, usage, cli = outputs
        assert json.loads(curl_ingest)["ingested_count"] == 1
        assert "'ingested_count': 1" in sdk_ingest
        assert json.loads(meter)["aggregation"] == {"type": "sum", "key": "tokens"}
        [row] = json.loads(usage)["data"]
        assert (row["customer_id"], row["value"], row["events"]) == ("cus_tour", "4000", 2)
        assert row["windows"] == [{"start": "2025-01-01T00:00:00Z", "end": "2025-02-01T00:00:00Z", "value": "4000"}]
        assert "cus_tour" in cli and "4000" in cli
    finally:
        stop_server(proc)
