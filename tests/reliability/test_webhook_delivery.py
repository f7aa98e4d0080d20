"""Webhook delivery guarantees, seen from a receiver that verifies every signature and dedupes on ``webhook-id``:

* a receiver that is down gets retries with exponential backoff, and once it is back every message
  arrives: nothing is lost;
* a replayed delivery (a retry after a failed attempt, or a redelivery after the worker died between
  posting and recording the answer) carries the same ``webhook-id`` and body, so the receiver can
  process each message exactly once.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
from sqlalchemy import select

from meterbase.storage import open_store
from meterbase.storage.outbox import enqueue
from meterbase.storage.schema import webhook_outbox
from meterbase.webhooks import Deliverer, WebhookVerificationError, add_endpoint, verify
from meterbase.webhooks.delivery import LEASE_US
from support.server import free_port
from support.clock import FakeClock

US = 1_000_000


def Clock() -> FakeClock:  # noqa: N802 - a clock that starts now (outbox rows use real time)
    return FakeClock(datetime.now(timezone.utc))


class Receiver:
    """Verifies signatures (bad ones get 400), answers ``status`` and dedupes on webhook-id."""

    def __init__(self, port: int, secret: str, clock: Clock):
        self.requests: list[tuple[str, bytes]] = []  # every authentic request: (webhook-id, body)
        self.processed: dict[str, dict] = {}  # what the application acted on, once per id
        self.rejected = 0
        self.status = 204
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                try:
                    msg_id = verify(secret, dict(self.headers), body, now=clock().timestamp())
                except WebhookVerificationError:
                    outer.rejected += 1
                    self.send_response(400)
                    self.end_headers()
                    return
                outer.requests.append((msg_id, body))
                if outer.status < 300:
                    outer.processed.setdefault(msg_id, orjson.loads(body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def setup(tmp_path):
    clock = Clock()
    store = open_store(f"sqlite:///{tmp_path}/wh.db", clock=clock)
    port = free_port()
    with store.write() as conn:
        ep = add_endpoint(conn, "test_mode", f"http://127.0.0.1:{port}/hooks", [], store.now())
    yield store, clock, port, ep
    store.close()


def rows(store) -> dict:
    with store.read() as conn:
        return {r.id: r for r in conn.execute(select(webhook_outbox))}


def test_down_receiver_gets_retries_with_backoff_and_loses_nothing(setup):
    store, clock, port, ep = setup
    with store.write() as conn:
        ids = [mid for i in range(25) for mid in enqueue(conn, "test_mode", "invoice.created", {"n": i}, store.now())]
    deliverer = Deliverer(store, base_seconds=5, max_attempts=8)

    # down for four attempts: 5, 10, 20, 40 s apart, every message kept
    for attempt, delay in enumerate([5, 10, 20, 40], start=1):
        report = deliverer.deliver_once()
        assert sorted(report.retried) == sorted(ids) and not report.delivered and not report.failed
        assert {(r.attempts, r.next_attempt_at - store.now()) for r in rows(store).values()} == {(attempt, delay * US)}
        clock.advance(delay - 1)
        assert deliverer.deliver_once().retried == []  # not due before its backoff
        clock.advance(1)

    receiver = Receiver(port, ep.secret, clock)
    try:
        report = deliverer.deliver_once()
        assert sorted(report.delivered) == sorted(ids)
        assert deliverer.deliver_once().delivered == []
    finally:
        receiver.close()
    assert receiver.rejected == 0 and sorted(receiver.processed) == sorted(ids)
    assert sorted(p["data"]["n"] for p in receiver.processed.values()) == list(range(25))  # every payload intact
    assert all(r.delivered_at is not None and r.attempts == 5 for r in rows(store).values())


def test_replays_carry_the_same_id_and_body(setup):
    store, clock, port, ep = setup
    with store.write() as conn:
        [first] = enqueue(conn, "test_mode", "invoice.finalized", {"id": "inv_1", "total": "30.00"}, store.now())
        [second] = enqueue(conn, "test_mode", "invoice.finalized", {"id": "inv_2", "total": "12.00"}, store.now())
    receiver = Receiver(port, ep.secret, clock)
    try:
        # 1. the receiver answers 500 once: the retry is the same message (same id, same body)
        receiver.status = 500
        Deliverer(store, base_seconds=5).deliver_once()
        receiver.status = 204
        clock.advance(5)
        assert sorted(Deliverer(store, base_seconds=5).deliver_once().delivered) == sorted([first, second])

        # 2. the worker dies after posting, before recording the answer: the message stays leased, and is
        #    delivered again (same id) once the lease runs out; the receiver processes it once
        with store.write() as conn:
            [third] = enqueue(conn, "test_mode", "usage.threshold_reached", {"subscription_id": "sub_1"}, store.now())

        class Crash(BaseException):
            pass

        dying = Deliverer(store)
        real_post = dying._post

        def post_then_die(endpoint, row):
            assert real_post(endpoint, row) is None  # the receiver got it and said 2xx...
            raise Crash  # ...and the worker is killed before it writes that down

        dying._post = post_then_die
        with pytest.raises(Crash):
            dying.deliver_once()
        assert rows(store)[third].delivered_at is None
        assert Deliverer(store).deliver_once().delivered == []  # leased: no double send while it may be in flight
        clock.advance(LEASE_US / US + 1)
        assert Deliverer(store).deliver_once().delivered == [third]
    finally:
        receiver.close()

    by_id: dict[str, list[bytes]] = {}
    for mid, body in receiver.requests:
        by_id.setdefault(mid, []).append(body)
    assert len(by_id[first]) == 2 and len(by_id[second]) == 2 and len(by_id[third]) == 2
    assert all(len(set(bodies)) == 1 for bodies in by_id.values())  # a replay is byte-identical
    assert sorted(receiver.processed) == sorted([first, second, third]) and receiver.rejected == 0
