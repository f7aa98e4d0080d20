"""``meterbase sessions reap`` / ``list`` through Typer's runner (the real clock: sessions are started in the past)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from typer.testing import CliRunner

from meterbase.cli.main import app
from meterbase.policy.service import PolicyService
from meterbase.sessions import SessionService
from meterbase.storage import open_store

runner = CliRunner()


def test_cli_reap_meters_abandoned_sessions_once(store, seed_text):
    url = store.write_engine.url.render_as_string(hide_password=False)
    past = datetime.now(timezone.utc) - timedelta(hours=2)
    svc = SessionService(store, PolicyService(store, seed_text, environment="live_mode", clock=lambda: past))
    svc.start("cus_a", "old", plan="pro")
    fresh = SessionService(store, PolicyService(store, environment="live_mode"))
    fresh.start("cus_a", "new")  # started now: alive

    result = runner.invoke(app, ["sessions", "reap", "--max-idle", "1800", "--db", url])
    assert result.exit_code == 0, result.output
    assert "reaped 1," in result.output and "old" in result.output
    old = fresh.get("old")
    assert old.status == "stopped" and old.stop_reason == "reaped" and 7200 <= old.seconds < 7300
    assert fresh.get("new").status == "running"
    assert fresh.policy.value("cus_a", "gpu_compute") == Decimal(old.seconds)

    again = runner.invoke(app, ["sessions", "reap", "--max-idle", "1800", "--env", "live_mode", "--db", url])
    assert again.exit_code == 0 and "reaped 0," in again.output
    assert fresh.policy.value("cus_a", "gpu_compute") == Decimal(old.seconds)

    listed = runner.invoke(app, ["sessions", "list", "--env", "live_mode", "--status", "running", "--db", url])
    assert listed.exit_code == 0 and "new" in listed.output and "old" not in listed.output


def test_cli_reap_rejects_bad_options(tmp_path):
    url = f"sqlite:///{tmp_path}/cli.db"
    open_store(url).close()
    bad = runner.invoke(app, ["sessions", "reap", "--charge-until", "later", "--db", url])
    assert bad.exit_code == 2 and "charge-until" in bad.output
    assert runner.invoke(app, ["sessions", "reap", "--db", url]).exit_code == 0  # nothing to do
