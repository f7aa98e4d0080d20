"""CLI: keys, meters, resumable JSONL ingest and usage, through Typer's runner on a real SQLite file."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

from meterbase.cli import ingest as ingest_mod
from meterbase.cli.main import app
from meterbase.storage import open_store

runner = CliRunner()


@pytest.fixture()
def db(tmp_path):
    return f"sqlite:///{tmp_path}/cli.db"


def write_jsonl(path, n: int, start: int = 0) -> None:
    with open(path, "wb") as fh:
        for i in range(start, start + n):
            fh.write(orjson.dumps({"event_id": f"e{i}", "customer_id": f"cus_{i % 3}", "event_name": "job",
                                   "timestamp": "2025-03-01T12:00:00Z", "metadata": {"seconds": str(i)}}) + b"\n")


def test_keys_create_prints_a_working_token_once(db):
    result = runner.invoke(app, ["keys", "create", "--name", "ci", "--env", "live_mode", "--db", db])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("mb_live_") and len(token) > 40
    key = open_store(db).find_key(token)
    assert key is not None and key.environment == "live_mode"
    listed = runner.invoke(app, ["keys", "list", "--db", db])
    assert key.id in listed.output and token not in listed.output


def test_bad_environment_is_a_clean_error(db):
    result = runner.invoke(app, ["keys", "create", "--env", "prod", "--db", db])
    assert result.exit_code == 2
    assert "environment must be one of test_mode, live_mode" in result.output


def test_ingest_resumes_after_a_crash_without_double_counting(db, tmp_path, monkeypatch):
    path = tmp_path / "events.jsonl"
    write_jsonl(path, 2500)
    meter = runner.invoke(app, ["meters", "create", "--name", "secs", "--event-name", "job", "-a", "sum", "-k", "seconds",
                                "--db", db])
    assert meter.exit_code == 0, meter.output

    real_send = ingest_mod.StoreSink.send
    calls = {"n": 0}

    def flaky_send(self, events):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("network went away")
        return real_send(self, events)

    monkeypatch.setattr(ingest_mod.StoreSink, "send", flaky_send)
    crashed = runner.invoke(app, ["ingest", str(path), "--batch-size", "1000", "--db", db])
    assert crashed.exit_code != 0
    checkpoint = tmp_path / "events.jsonl.mbprogress"
    assert checkpoint.exists()
    first_batch_end = orjson.loads(checkpoint.read_bytes())["offset"]
    assert 0 < first_batch_end < path.stat().st_size

    monkeypatch.setattr(ingest_mod.StoreSink, "send", real_send)
    resumed = runner.invoke(app, ["ingest", str(path), "--batch-size", "1000", "--db", db])
    assert resumed.exit_code == 0, resumed.output
    assert "resuming at byte" in resumed.output
    assert "1,500 ingested" in resumed.output  # only the 1,500 events after the checkpoint were sent
    assert not checkpoint.exists()

    again = runner.invoke(app, ["ingest", str(path), "--db", db])
    assert "0 ingested, 2,500 duplicates" in again.output

    store = open_store(db)
    [m] = store.list_meters("test_mode")
    from meterbase.timeutil import parse_instant, to_us

    u = store.usage("test_mode", m.id, to_us(parse_instant("2025-03-01")), to_us(parse_instant("2025-03-02")), "day")
    assert sum(s.total().value("sum") for s in u.series) == sum(range(2500))  # 3,123,750
    usage = runner.invoke(app, ["usage", m.id, "--from", "2025-03-01", "--to", "2025-03-02", "--db", db])
    assert usage.exit_code == 0 and "cus_0" in usage.output


def test_ingest_reports_bad_lines_with_their_number(db, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"event_id": "a", "customer_id": "c", "event_name": "x"}\nnot json\n')
    result = runner.invoke(app, ["ingest", str(path), "--db", db])
    assert result.exit_code == 2
    assert "line 2" in result.output
