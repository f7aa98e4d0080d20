"""Clients we did not write: the official ``dodopayments`` TypeScript SDK (baseURL -> meterbase)
ingesting events shaped like ``@dodopayments/ingestion-blueprints``' trackTimeRange and
trackStreamBytes, and those package functions themselves (see tests/sdk/js/compat.mjs).

The npm packages (exact versions in tests/sdk/js/package.json + package-lock.json) are installed
with ``npm ci`` into a temp folder keyed by the hash of those files, so repeated runs reuse it.
Skipped, with the reason, only when node/npm are missing or the npm registry is unreachable.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from meterbase.sdk.blueprints.time_range import time_range_metadata

from .conftest import Recorder, bag

JS = Path(__file__).parent / "js"
MANIFESTS = ("package.json", "package-lock.json")
# Math.random().toString(36).substring(2, 8): up to 6 base-36 characters
TS_EVENT_ID = re.compile(r"^(time_range_usage|stream_consumption)_\d{13}_[0-9a-z]{1,6}$")


def _npm(*args: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(["npm", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "npm_config_update_notifier": "false"})


def node_modules() -> Path:
    """A folder holding the pinned packages (installed once per manifest hash) and compat.mjs."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are not installed: the dodopayments TypeScript SDK check needs them")
    digest = hashlib.sha256(b"".join((JS / name).read_bytes() for name in MANIFESTS)).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"meterbase-npm-{digest}"
    if not (target / ".installed").exists():
        try:
            ping = _npm("ping", "--fetch-timeout=20000", "--fetch-retries=0", cwd=JS, timeout=60)
        except subprocess.TimeoutExpired:
            ping = None
        if ping is None or ping.returncode != 0:
            lines = [] if ping is None else [ln for ln in ping.stderr.splitlines() if "FetchError" in ln or " code " in ln]
            why = "timed out" if ping is None else (lines[-1].removeprefix("npm error").strip() if lines else "npm ping failed")
            pytest.skip(f"npm registry unreachable ({why}): cannot install dodopayments for the TypeScript SDK check")
        staging = Path(tempfile.mkdtemp(prefix=f"meterbase-npm-{digest}-"))
        for name in MANIFESTS:
            shutil.copy(JS / name, staging / name)
        r = _npm("ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error", cwd=staging, timeout=600)
        assert r.returncode == 0, f"npm ci failed:\n{r.stdout}\n{r.stderr}"
        (staging / ".installed").touch()
        try:
            staging.rename(target)
        except OSError:  # a concurrent run installed it first
            shutil.rmtree(staging, ignore_errors=True)
    shutil.copy(JS / "compat.mjs", target / "compat.mjs")  # ESM resolves packages next to the script
    return target


@pytest.fixture(scope="module")
def ts_run(server, meters):
    folder = node_modules()
    run = uuid.uuid4().hex[:8]
    r = subprocess.run(["node", str(folder / "compat.mjs")], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "MB_URL": server.url, "MB_API_KEY": server.test_key, "RUN": run})
    assert r.returncode == 0, f"node failed:\n{r.stdout}\n{r.stderr}"
    return run, json.loads(r.stdout.strip().splitlines()[-1])


def python_blueprint_metadata() -> list[tuple[str, dict]]:
    """What our Python blueprints produce for the same calls: the events must be the same."""
    from meterbase.sdk.blueprints import track_stream_bytes

    rec = Recorder()
    track_stream_bytes(rec, "c", 10485760, metadata={"stream_type": "video"})
    track_stream_bytes(rec, "c", 524288, metadata={"stream_type": "audio", "quality": "hd"})
    return [
        ("time_range_usage", time_range_metadata(duration_ms=1500,
                                                 metadata={"function_name": "image-processor", "memory_mb": 512})),
        ("time_range_usage", time_range_metadata(duration_seconds=120)),
        ("time_range_usage", time_range_metadata(duration_minutes=60)),
    ] + [(c["event_name"], c["metadata"]) for c in rec.calls]


@pytest.mark.parametrize("path", ["sdk", "package"])
def test_ts_events_are_stored_exactly_and_metered(server, meters, ts_run, path):
    run, summary = ts_run
    customer = f"cus_ts_{path}_{run}"
    stored = server.events(customer)
    assert len(stored) == 5
    assert all(TS_EVENT_ID.match(e["event_id"]) for e in stored)
    assert bag((e["event_name"], e["metadata"]) for e in stored) == bag(python_blueprint_metadata())
    if path == "sdk":
        assert summary["sdk"]["ingested_count"] == 5 and summary["sdk"]["replay_ingested_count"] == 0
        assert sorted(e["event_id"] for e in stored) == sorted(summary["sdk"]["event_ids"])
        sent = {e["event_id"]: e for e in summary["sdk_events"]}
        for e in stored:  # the instant survives exactly (the SDK sends milliseconds)
            assert e["timestamp"].replace("000Z", "Z").replace("+00:00", "Z") == sent[e["event_id"]]["timestamp"]
    assert server.usage(meters["Compute time"], customer) == 1500
    assert server.usage(meters["Compute time (seconds)"], customer) == 120
    assert server.usage(meters["Compute time (minutes)"], customer) == 60
    assert server.usage(meters["Stream bytes"], customer) == 10485760 + 524288


def test_published_package_cannot_be_redirected_by_environment_variable(ts_run):
    _, summary = ts_run
    assert summary["ambiguous"] and "Ambiguous URL" in summary["ambiguous"]
