"""The killed-client test: a process queues events (long flush interval, big batches) and ends.

Every ending a process can intercept — normal exit, an uncaught exception, SIGTERM, Ctrl-C, an
asyncio loop that finishes — must deliver the queued events. SIGKILL cannot be intercepted by
any process, so those events are lost (documented in docs/sdk.md; keep flush_interval short).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

N = 37

CLIENT = textwrap.dedent("""
    import asyncio, sys, time
    from meterbase.sdk import AsyncIngestion, Ingestion

    mode, url, key, customer, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    opts = dict(flush_interval=3600, batch_size=1000)  # nothing would be sent before the end

    if mode == "async-loop-end":
        async def main():
            ing = AsyncIngestion(key, "test_mode", "shutdown.test", url, **opts)
            for i in range(n):
                ing.track(customer, {"i": i})
            print("queued", ing.pending, flush=True)
        asyncio.run(main())  # the loop ends with the events still queued
        sys.exit(0)

    if mode == "async-no-loop":
        ing = AsyncIngestion(key, "test_mode", "shutdown.test", url, **opts)
        for i in range(n):
            ing.track(customer, {"i": i})  # tracked outside any loop: only the atexit hook can send them
        print("queued", ing.pending, flush=True)
        sys.exit(0)

    ing = Ingestion(key, "test_mode", "shutdown.test", url, **opts)
    for i in range(n):
        ing.track(customer, {"i": i})
    print("queued", ing.pending, flush=True)
    if mode == "exception":
        raise RuntimeError("the application crashed")
    if mode in ("sigterm", "sigint", "sigkill"):
        time.sleep(600)  # busy with something else until the signal arrives
""")


@pytest.fixture(scope="module")
def client_script(tmp_path_factory):
    path = tmp_path_factory.mktemp("client") / "client.py"
    path.write_text(CLIENT)
    return path


def run_client(client_script, server, mode: str, customer: str) -> subprocess.CompletedProcess | subprocess.Popen:
    argv = [sys.executable, str(client_script), mode, server.url, server.test_key, customer, str(N)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if mode not in ("sigterm", "sigint", "sigkill"):
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    # a pytest-xdist worker ignores SIGINT, and an ignored signal stays ignored in a child: give the client
    # the default disposition, as a terminal's program has, so Python turns SIGINT into KeyboardInterrupt
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout.readline().strip() == f"queued {N}"
    proc.send_signal({"sigterm": signal.SIGTERM, "sigint": signal.SIGINT, "sigkill": signal.SIGKILL}[mode])
    proc.wait(60)
    return proc


@pytest.mark.parametrize("mode, returncode", [
    ("exit", 0),
    ("exception", 1),
    ("sigterm", 128 + signal.SIGTERM),
    ("sigint", -signal.SIGINT),  # Python re-raises SIGINT after an uncaught KeyboardInterrupt
    ("async-loop-end", 0),
    ("async-no-loop", 0),
])
def test_queued_events_are_flushed_when_the_client_ends(client_script, server, mode, returncode):
    customer = f"cus_shutdown_{mode}"
    proc = run_client(client_script, server, mode, customer)
    stderr = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.read()
    assert proc.returncode == returncode, stderr
    assert "lost" not in stderr
    assert sorted(e["metadata"]["i"] for e in server.events(customer)) == list(range(N))


def test_sigkill_cannot_be_intercepted(client_script, server):
    """Documented limitation: a SIGKILLed process runs no code, so its queue is gone."""
    proc = run_client(client_script, server, "sigkill", "cus_shutdown_sigkill")
    assert proc.returncode == -signal.SIGKILL
    assert server.events("cus_shutdown_sigkill") == []
