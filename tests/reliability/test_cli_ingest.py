"""Issue 19 item 4 (and issue 13's ingest part): ``meterbase ingest`` resumes only the file it was
reading, honours MB_URL / MB_API_KEY, and fails in one line (exit 2) when the server cannot be
reached or refuses the key. Local store on SQLite and PostgreSQL; the HTTP cases against a live server.
"""

from __future__ import annotations

import os

import orjson
import pytest
from typer.testing import CliRunner

from meterbase.cli import ingest as ingest_mod
from meterbase.cli.main import app
from meterbase.storage import open_store
from support.server import free_port, start_server, stop_server

runner = CliRunner()


def write(path, ids, value=1) -> None:
    path.write_bytes(b"".join(orjson.dumps({"event_id": f"e{i}", "customer_id": "c", "event_name": "job",
                                            "timestamp": "2025-03-01T10:00:00Z", "metadata": {"v": value}}) + b"\n"
                              for i in ids))


def crash_after_first_batch(monkeypatch):
    real = ingest_mod.StoreSink.send
    calls = {"n": 0}

    def flaky(self, events):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ingest_mod.IngestFailed("network went away")
        return real(self, events)

    monkeypatch.setattr(ingest_mod.StoreSink, "send", flaky)
    return lambda: monkeypatch.setattr(ingest_mod.StoreSink, "send", real)


@pytest.fixture()
def db(fresh_store_url):
    url = fresh_store_url()
    open_store(url).close()
    return url


def stored(db_url) -> set[str]:
    store = open_store(db_url)
    try:
        return {e["event_id"] for e in store.list_events("test_mode", limit=10_000)}
    finally:
        store.close()


@pytest.mark.parametrize("replacement", ["overwritten", "shorter"])
def test_a_different_file_under_the_same_name_starts_from_the_top(db, tmp_path, monkeypatch, replacement):
    path = tmp_path / "export.jsonl"
    write(path, range(1000))
    restore = crash_after_first_batch(monkeypatch)
    crashed = runner.invoke(app, ["ingest", str(path), "--batch-size", "500", "--db", db])
    assert crashed.exit_code == 2 and "network went away" in crashed.output
    saved = orjson.loads(path.with_name("export.jsonl.mbprogress").read_bytes())
    first_500 = sum(len(line) for line in path.read_bytes().splitlines(keepends=True)[:500])
    assert saved["offset"] == first_500 and saved["size"] == path.stat().st_size
    restore()

    # the next export reuses the name: other events, as long (same offset reachable) or shorter
    write(path, range(5000, 5600) if replacement == "overwritten" else range(7000, 7100), value=2)
    r = runner.invoke(app, ["ingest", str(path), "--batch-size", "500", "--db", db])
    assert r.exit_code == 0, r.output
    assert "starting from the top" in r.output and "resuming" not in r.output
    new = set(f"e{i}" for i in (range(5000, 5600) if replacement == "overwritten" else range(7000, 7100)))
    assert new <= stored(db)  # the first events of the new file were not skipped
    assert not path.with_name("export.jsonl.mbprogress").exists()


def test_the_same_file_resumes_and_a_grown_file_resumes_too(db, tmp_path, monkeypatch):
    path = tmp_path / "events.jsonl"
    write(path, range(1000))
    restore = crash_after_first_batch(monkeypatch)
    assert runner.invoke(app, ["ingest", str(path), "--batch-size", "500", "--db", db]).exit_code == 2
    restore()
    with path.open("ab") as fh:  # appended to (mtime and size change, the consumed prefix does not)
        fh.write(orjson.dumps({"event_id": "extra", "customer_id": "c", "event_name": "job"}) + b"\n")
    r = runner.invoke(app, ["ingest", str(path), "--batch-size", "500", "--db", db])
    assert r.exit_code == 0 and "resuming at byte" in r.output and "501 ingested, 0 duplicates" in r.output, r.output
    assert len(stored(db)) == 1001


def test_an_old_offset_only_checkpoint_restarts_safely(db, tmp_path):
    path = tmp_path / "events.jsonl"
    write(path, range(10))
    path.with_name("events.jsonl.mbprogress").write_text("500")
    r = runner.invoke(app, ["ingest", str(path), "--db", db])
    assert r.exit_code == 0 and "starting from the top" in r.output and "10 ingested" in r.output, r.output


# ---------------------------------------------------------------------------------------------
# Over HTTP: MB_URL and MB_API_KEY, and one-line failures
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli_ingest")
    db_url = f"sqlite:///{tmp}/live.db"
    store = open_store(db_url)
    key, _ = store.create_key("cli", "test_mode")
    store.close()
    proc, url = start_server(db_url, tmp / "server.log")
    yield url, key, db_url
    stop_server(proc)


def _env_without_mb():
    return {k: v for k, v in os.environ.items() if not k.startswith("MB_")}


def test_mb_url_and_mb_api_key_are_honoured(live, tmp_path):
    url, key, db_url = live
    path = tmp_path / "http.jsonl"
    write(path, range(3))
    r = runner.invoke(app, ["ingest", str(path)], env={**_env_without_mb(), "MB_URL": url, "MB_API_KEY": key})
    assert r.exit_code == 0 and "3 ingested" in r.output, r.output
    assert {"e0", "e1", "e2"} <= stored(db_url)


@pytest.mark.parametrize("case", ["unreachable", "bad key", "not meterbase"])
def test_failures_print_one_line_and_exit_2(live, tmp_path, case):
    url, key, _ = live
    path = tmp_path / "fail.jsonl"
    write(path, range(3))
    target, token = {"unreachable": (f"http://127.0.0.1:{free_port()}", key), "bad key": (url, "mb_test_nope"),
                     "not meterbase": (url + "/healthz?", key)}[case]
    r = runner.invoke(app, ["ingest", str(path), "--retries", "0"],
                      env={**_env_without_mb(), "MB_URL": target, "MB_API_KEY": token})
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and r.exception is None or isinstance(r.exception, SystemExit)
    lines = [ln for ln in r.output.splitlines() if ln.strip() and "ingest" not in ln.split(" ")[0:1]]
    errors = [ln for ln in r.output.splitlines() if ln.startswith("error")]
    assert len(errors) == 1, r.output
    assert {"unreachable": "cannot reach meterbase", "bad key": "refused the API key",
            "not meterbase": "error"}[case] in errors[0], r.output
    assert lines  # something was said
