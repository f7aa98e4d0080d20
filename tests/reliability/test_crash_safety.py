"""Crash safety: SIGKILL the server several times while a retrying client streams batches, restart it on
the same database, and check that every acknowledged event is stored exactly once and that meter values
(read from the rollups written at ingest) equal the totals computed here.

The client behaves as the SDK tells users to: on a transport error or a 5xx it sends the *same* batch
again (same event ids) until it gets a 2xx. A batch whose commit happened but whose answer was lost to the
kill therefore comes back as duplicates, never as a second copy or a conflict.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import defaultdict
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from meterbase.storage import open_store
from meterbase.storage.schema import events as events_table
from support.pg import create_database, drop_database, pg_available
from support.server import start_server, stop_server

pytestmark = pytest.mark.slow

BATCHES, SIZE, KILLS = 40, 200, 3
CUSTOMERS = 7
ENV = "test_mode"
SEED = 20260427


@pytest.fixture()
def crash_db_url(backend, tmp_path):
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/crash.db"
        return
    if not pg_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    url = create_database("mb_crash")
    try:
        yield url
    finally:
        drop_database(url)


def make_batches(rng: random.Random) -> list[list[dict]]:
    batches = []
    for b in range(BATCHES):
        batch = []
        for i in range(SIZE):
            minute = rng.randrange(0, 3 * 24 * 60)  # spread over three days: many hour and day buckets
            batch.append({
                "event_id": f"crash-b{b:02d}-e{i:03d}",
                "customer_id": f"cus_{rng.randrange(CUSTOMERS)}",
                "event_name": "crash.tick",
                "timestamp": f"2025-02-{1 + minute // 1440:02d}T{(minute // 60) % 24:02d}:{minute % 60:02d}:{rng.randrange(60):02d}Z",
                "metadata": {"v": f"{rng.randrange(0, 10**6)}.{rng.randrange(100):02d}", "batch": b},
            })
        batches.append(batch)
    return batches


class Server:
    """The live server; ``url`` changes on every restart (a new port)."""

    def __init__(self, db_url: str, log):
        self.db_url, self.log = db_url, log
        self.proc, self.url = start_server(db_url, log)
        self.kills = 0

    def kill_and_restart(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.kills += 1
        self.proc, self.url = start_server(self.db_url, self.log)


class Streamer(threading.Thread):
    """Sends each batch until a 2xx acknowledges it, retrying on transport errors and 5xx."""

    def __init__(self, server: Server, token: str, batches: list[list[dict]], deadline: float):
        super().__init__(daemon=True)
        self.server, self.token, self.batches, self.deadline = server, token, batches, deadline
        self.acks: dict[int, dict] = {}
        self.in_flight_failures = 0  # requests cut by a kill after they were sent
        self.error: str | None = None
        self.progress = threading.Condition()

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            for idx, batch in enumerate(self.batches):
                while True:
                    if time.monotonic() > self.deadline:
                        self.error = f"batch {idx} not acknowledged before the deadline"
                        return
                    try:
                        r = client.post(self.server.url + "/v1/events/ingest", json={"events": batch},
                                        headers={"Authorization": f"Bearer {self.token}"})
                    except httpx.ConnectError:
                        time.sleep(0.05)  # restarting
                        continue
                    except httpx.TransportError:
                        self.in_flight_failures += 1
                        time.sleep(0.05)
                        continue
                    if r.status_code >= 500 or r.status_code == 429:
                        time.sleep(0.05)
                        continue
                    if r.status_code != 200:
                        self.error = f"batch {idx}: unexpected {r.status_code} {r.text}"
                        return
                    with self.progress:
                        self.acks[idx] = r.json()
                        self.progress.notify_all()
                    break

    def wait_for(self, acked: int, timeout: float) -> None:
        with self.progress:
            self.progress.wait_for(lambda: len(self.acks) >= acked or not self.is_alive(), timeout)


def test_sigkill_mid_stream_loses_and_doubles_nothing(crash_db_url, tmp_path):
    rng = random.Random(SEED)
    batches = make_batches(rng)
    store = open_store(crash_db_url)
    token, _ = store.create_key("crash", ENV)
    count_id = store.create_meter(ENV, {"name": "ticks", "event_name": "crash.tick", "aggregation": {"type": "count"}}).id
    sum_id = store.create_meter(ENV, {"name": "v", "event_name": "crash.tick",
                                      "aggregation": {"type": "sum", "key": "v"}}).id
    store.close()

    server = Server(crash_db_url, tmp_path / "server.log")
    streamer = Streamer(server, token, batches, deadline=time.monotonic() + 50)
    kill_points = sorted(rng.sample(range(3, BATCHES - 3), KILLS))
    try:
        streamer.start()
        for point in kill_points:
            streamer.wait_for(point, timeout=30)
            time.sleep(rng.uniform(0.0, 0.04))  # usually lands inside a request or its commit
            server.kill_and_restart()
        streamer.join(60)
        assert not streamer.is_alive(), "the client is still streaming"
        assert streamer.error is None, streamer.error
        assert server.kills == KILLS and len(streamer.acks) == BATCHES
        assert streamer.in_flight_failures >= 1, "no kill cut a request in flight: the test proved nothing"

        # Every acknowledgement accounts for its whole batch: new or already stored (a retry of a batch
        # whose commit outran the kill), never a conflict.
        for idx, ack in streamer.acks.items():
            assert ack["ingested_count"] + ack["duplicate_count"] == SIZE, (idx, ack)
            assert ack["conflict_count"] == 0, (idx, ack)

        # Exactly once: every acknowledged event id is stored, and no id twice.
        expected_ids = {e["event_id"] for batch in batches for e in batch}
        check = open_store(crash_db_url)
        try:
            with check.read() as conn:
                stored = [r.event_id for r in conn.execute(select(events_table.c.event_id)
                                                           .where(events_table.c.environment == ENV))]
                doubled = conn.execute(select(events_table.c.event_id).where(events_table.c.environment == ENV)
                                       .group_by(events_table.c.event_id).having(func.count() > 1)).all()
        finally:
            check.close()
        assert len(stored) == len(expected_ids) and set(stored) == expected_ids and not doubled

        # Meter values (rollups folded in at ingest, in the events' transaction) equal the exact totals.
        want_count: dict[str, int] = defaultdict(int)
        want_sum: dict[str, Decimal] = defaultdict(Decimal)
        for batch in batches:
            for e in batch:
                want_count[e["customer_id"]] += 1
                want_sum[e["customer_id"]] += Decimal(e["metadata"]["v"])
        auth = {"Authorization": f"Bearer {token}"}
        q = {"from": "2025-02-01T00:00:00Z", "to": "2025-02-05T00:00:00Z", "window": "day"}
        # a meter created now is backfilled from the raw events: it must agree with the ingest-time rollups
        backfilled = httpx.post(server.url + "/v1/meters", headers=auth, json={
            "name": "v2", "event_name": "crash.tick", "aggregation": {"type": "sum", "key": "v"}}).json()["id"]
        for meter_id, want in ((count_id, want_count), (sum_id, want_sum), (backfilled, want_sum)):
            r = httpx.get(f"{server.url}/v1/meters/{meter_id}/usage", params=q, headers=auth, timeout=30)
            assert r.status_code == 200, r.text
            got = {row["customer_id"]: Decimal(row["value"]) for row in r.json()["data"]}
            assert got == {c: Decimal(v) for c, v in want.items()}, meter_id
            assert sum(Decimal(w["value"]) for row in r.json()["data"] for w in row["windows"]) == sum(want.values())
    finally:
        stop_server(server.proc)
