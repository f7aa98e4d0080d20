"""CLI: ``meterbase events fold`` catches the rollups up; ``meterbase events status`` shows the watermark, the
unfolded tail and the configured MB_MAX_UNFOLDED."""

from __future__ import annotations

from typer.testing import CliRunner

from meterbase.cli.main import app
from meterbase.storage import open_store

runner = CliRunner()


def test_fold_catches_up_and_status_reports_the_watermark(tmp_path, monkeypatch):
    monkeypatch.delenv("MB_MAX_UNFOLDED", raising=False)
    db = f"sqlite:///{tmp_path}/cli.db"
    store = open_store(db)
    try:
        store.create_meter("test_mode", {"name": "jobs", "event_name": "job", "aggregation": {"type": "count"}})
        store.ingest("test_mode", [{"event_id": f"e{i}", "customer_id": "c", "event_name": "job",
                                    "timestamp": "2025-03-01T12:00:00Z"} for i in range(12)])
    finally:
        store.close()
    before = runner.invoke(app, ["events", "status", "--env", "test_mode", "--db", db])
    assert before.exit_code == 0, before.output
    assert "test_mode: folded up to seq 0; latest seq 12; unfolded 12\n" in before.output
    assert "bound while a server's folder runs: 100,000 (MB_MAX_UNFOLDED)" in before.output
    assert len(before.output.splitlines()) == 2
    folded = runner.invoke(app, ["events", "fold", "--db", db])
    assert folded.exit_code == 0, folded.output
    assert "folded 12 events" in folded.output
    after = runner.invoke(app, ["events", "status", "--env", "test_mode", "--db", db])
    assert "folded up to seq 12; latest seq 12; unfolded 0 (up to date)" in after.output
    unbounded = runner.invoke(app, ["events", "status", "--env", "test_mode", "--db", db], env={"MB_MAX_UNFOLDED": "0"})
    assert "no bound while a server's folder runs (MB_MAX_UNFOLDED=0)" in unbounded.output
    again = runner.invoke(app, ["events", "fold", "--db", db])
    assert "folded 0 events" in again.output
