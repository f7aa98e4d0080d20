"""``meterbase blueprints list|create-meters`` over HTTP and against a local database."""

from __future__ import annotations

from typer.testing import CliRunner

from meterbase.cli.main import app
from meterbase.sdk import Meterbase
from meterbase.storage import open_store

runner = CliRunner()


def test_create_meters_over_http_is_idempotent(server):
    args = ["blueprints", "create-meters", "--api-key", server.test_key, "--url", server.url]
    first = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert first.exit_code == 0, first.output
    assert first.output.count("created") == 10
    again = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert again.exit_code == 0 and again.output.count("exists") == 10 and "created" not in again.output
    with Meterbase(server.test_key, server.url) as mb:
        got = {(m["name"], m["event_name"], m["aggregation"]["type"], m["aggregation"]["key"]) for m in mb.meters()}
    assert got == {
        ("LLM input tokens", "llm_usage", "sum", "inputTokens"),
        ("LLM output tokens", "llm_usage", "sum", "outputTokens"),
        ("LLM total tokens", "llm_usage", "sum", "totalTokens"),
        ("API requests", "api_call", "count", None),
        ("Storage uploaded", "object_storage", "sum", "bytes"),
        ("Storage downloaded", "object_storage", "sum", "bytes"),
        ("Storage used", "storage.snapshot", "last", "bytes"),
        ("Storage held", "storage.snapshot", "time_weighted", "bytes"),
        ("Stream bytes", "stream_consumption", "sum", "bytes"),
        ("Compute time", "time_range_usage", "sum", "durationMs"),
    }


def test_create_meters_in_a_local_database_with_overrides(tmp_path):
    db = f"sqlite:///{tmp_path}/cli.db"
    result = runner.invoke(app, ["blueprints", "create-meters", "time_range", "llm", "--db", db, "--env", "live_mode",
                                 "--event-name", "llm=chat_tokens", "--time-unit", "seconds"],
                           env={"MB_API_KEY": None, "MB_URL": None})  # no key: the local database
    assert result.exit_code == 0, result.output
    store = open_store(db)
    got = sorted((m.event_name, m.aggregation, m.key) for m in store.list_meters("live_mode", False, 100))
    assert got == [("chat_tokens", "sum", "inputTokens"), ("chat_tokens", "sum", "outputTokens"),
                   ("chat_tokens", "sum", "totalTokens"), ("time_range_usage", "sum", "durationSeconds")]
    assert store.list_meters("test_mode", False, 100) == []
    store.close()


def test_list_and_errors():
    listed = runner.invoke(app, ["blueprints", "list", "object-storage"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "storage.snapshot" in listed.output and 'operation equals "upload"' in listed.output
    bad = runner.invoke(app, ["blueprints", "list", "video"])
    assert bad.exit_code == 2 and "unknown blueprint" in bad.output
    bad = runner.invoke(app, ["blueprints", "list", "--event-name", "llm"])
    assert bad.exit_code == 2
