"""Webhooks: Standard-Webhooks signatures, and outbox delivery to a local receiver that is down
first, then fails once, then works: backoff is respected and each message id arrives once."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from meterbase.storage import open_store
from meterbase.storage.outbox import enqueue
from meterbase.storage.schema import webhook_outbox
from meterbase.webhooks import Deliverer, WebhookVerificationError, add_endpoint, backoff, sign, verify
from meterbase.webhooks.signing import headers
from support.server import free_port
from support.clock import FakeClock

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_signature_matches_the_standard_webhooks_reference_vector():
    sig = sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}')
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_verify_accepts_authentic_and_rejects_tampered_or_stale():
    body = '{"type":"invoice.created"}'
    h = headers(SECRET, "msg_1", 1_700_000_000, body)
    assert verify(SECRET, h, body, now=1_700_000_010) == "msg_1"
    assert verify(SECRET, {k.upper(): v for k, v in h.items()}, body.encode(), now=1_700_000_010) == "msg_1"
    rotated = {**h, "webhook-signature": "v1,bm9wZQ== " + h["webhook-signature"]}
    assert verify(SECRET, rotated, body, now=1_700_000_000) == "msg_1"
    for bad_headers, bad_body, now in [
        (h, body + " ", 1_700_000_000),  # body changed
        ({**h, "webhook-id": "msg_2"}, body, 1_700_000_000),  # id changed
        (h, body, 1_700_000_000 + 301),  # too old
        ({k: v for k, v in h.items() if k != "webhook-signature"}, body, 1_700_000_000),
    ]:
        with pytest.raises(WebhookVerificationError):
            verify(SECRET, bad_headers, bad_body, now=now)
    with pytest.raises(WebhookVerificationError):
        verify("whsec_" + "A" * 32, h, body, now=1_700_000_000)  # other secret


def test_backoff_doubles_and_is_capped():
    assert [backoff(n, 5) // 1_000_000 for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff(40, 5, cap_seconds=3600) == 3600 * 1_000_000


def Clock() -> FakeClock:  # noqa: N802 - a clock that starts now (outbox rows use real time)
    return FakeClock(datetime.now(timezone.utc))


class Receiver:
    """A tiny webhook receiver on 127.0.0.1 that verifies signatures and can fail on purpose."""

    def __init__(self, port: int, secret: str, fail_first: int = 0):
        self.calls: list[tuple[str, bool, int]] = []  # (webhook-id, signature ok, status answered)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                try:
                    verify(secret, dict(self.headers), body)
                    ok = True
                except WebhookVerificationError:
                    ok = False
                status = 500 if len(outer.calls) < fail_first else 204
                outer.calls.append((self.headers["webhook-id"], ok, status))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def outbox(store):
    with store.read() as conn:
        return {r.id: r for r in conn.execute(select(webhook_outbox))}


def test_retries_with_backoff_deliver_each_message_once(tmp_path):
    clock = Clock()
    store = open_store(f"sqlite:///{tmp_path}/wh.db", clock=clock)
    port = free_port()
    with store.write() as conn:
        ep = add_endpoint(conn, "test_mode", f"http://127.0.0.1:{port}/hooks", ["invoice.created"], store.now())
        enqueue(conn, "test_mode", "invoice.created", {"id": "inv_1", "total": "30.00"}, store.now())
        enqueue(conn, "test_mode", "invoice.created", {"id": "inv_2", "total": "14.00"}, store.now())
        enqueue(conn, "test_mode", "invoice.finalized", {"id": "inv_1"}, store.now())  # not subscribed
        enqueue(conn, "live_mode", "invoice.created", {"id": "inv_x"}, store.now())  # other mode: no endpoint
    ids = sorted(outbox(store))
    assert len(ids) == 2
    deliverer = Deliverer(store, base_seconds=5, max_attempts=5)

    # 1. the receiver is down: both attempts fail and are scheduled 5 s later
    report = deliverer.deliver_once()
    assert sorted(report.retried) == ids and not report.delivered
    rows = outbox(store)
    assert all(r.attempts == 1 and r.next_attempt_at == store.now() + 5_000_000 and "Connect" in r.last_error
               for r in rows.values())
    assert not deliverer.deliver_once().retried  # not due yet: backoff is respected

    # 2. the receiver comes up but fails its first request
    receiver = Receiver(port, ep.secret, fail_first=1)
    try:
        clock.advance(5)
        report = deliverer.deliver_once()
        assert len(report.delivered) == 1 and len(report.retried) == 1
        failed_id = report.retried[0]
        assert outbox(store)[failed_id].next_attempt_at == store.now() + 10_000_000  # doubled
        clock.advance(9)
        assert deliverer.deliver_once().delivered == []
        clock.advance(1)
        assert deliverer.deliver_once().delivered == [failed_id]
        assert deliverer.deliver_once().delivered == []  # nothing left
    finally:
        receiver.close()

    assert all(ok for _, ok, _ in receiver.calls)  # every request carried a valid signature
    delivered = [mid for mid, _, status in receiver.calls if status == 204]
    assert sorted(delivered) == ids  # exactly once per message id
    assert [mid for mid, _, status in receiver.calls if status == 500] == [failed_id]  # same id on retry
    rows = outbox(store)
    assert all(r.delivered_at is not None for r in rows.values())
    assert rows[failed_id].attempts == 3 and rows[delivered[0]].attempts == 2
    store.close()


def test_gives_up_after_max_attempts(tmp_path):
    clock = Clock()
    store = open_store(f"sqlite:///{tmp_path}/wh.db", clock=clock)
    with store.write() as conn:
        add_endpoint(conn, "test_mode", f"http://127.0.0.1:{free_port()}/down", [], store.now())
        [mid] = enqueue(conn, "test_mode", "usage.threshold_reached", {"x": 1}, store.now())
    deliverer = Deliverer(store, base_seconds=1, max_attempts=3)
    outcomes = []
    for _ in range(3):
        report = deliverer.deliver_once()
        outcomes.append((report.retried, report.failed))
        clock.advance(60)
    assert outcomes == [([mid], []), ([mid], []), ([], [mid])]
    assert outbox(store)[mid].failed_at is not None
    assert deliverer.deliver_once().failed == []
    store.close()


def test_cli_add_endpoint_list_and_deliver_once(db_url):
    from typer.testing import CliRunner

    from meterbase.cli.main import app

    runner = CliRunner()
    r = runner.invoke(app, ["webhooks", "add-endpoint", "--url", "http://127.0.0.1:9/x", "-t", "invoice.created",
                            "--db", db_url])
    assert r.exit_code == 0, r.output
    assert r.output.strip().splitlines()[-1].startswith("whsec_")
    listed = runner.invoke(app, ["webhooks", "list", "--db", db_url])
    assert "invoice.created" in listed.output and "whsec_" not in listed.output
    done = runner.invoke(app, ["webhooks", "deliver", "--once", "--db", db_url])
    assert done.exit_code == 0 and "0 delivered" in done.output
    bad = runner.invoke(app, ["webhooks", "add-endpoint", "--url", "ftp://x", "--db", db_url])
    assert bad.exit_code == 2 and "url" in bad.output
