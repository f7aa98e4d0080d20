"""Ingestion / AsyncIngestion: ids, local validation, batching, retries, no-retry on 4xx, shutdown."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from decimal import Decimal

import httpx
import orjson
import pytest

from meterbase.errors import ValidationError
from meterbase.sdk import AsyncIngestion, Ingestion, IngestionError, QueueFullError
from meterbase.sdk.client import backoff_delay
from meterbase.sdk.ingestion import key_environment

from .conftest import arun

KEY = "mb_test_" + "x" * 32
ID_RE = re.compile(r"^api_call_\d{13}_[0-9a-f]{12}$")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class FakeServer:
    """An httpx transport recording batches; ``script`` decides each answer (status or exception)."""

    def __init__(self, script=None, reject_customer: str | None = None):
        self.batches: list[list[dict]] = []
        self.attempts = 0
        self.script = list(script or [])
        self.reject_customer = reject_customer
        self.lock = threading.Lock()

    def answer(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.attempts += 1
            step = self.script.pop(0) if self.script else 200
        if isinstance(step, Exception):
            raise step
        events = orjson.loads(request.content)["events"]
        if self.reject_customer and any(e["customer_id"] == self.reject_customer for e in events):
            return httpx.Response(422, json={"code": "validation_error", "message": "bad customer", "field": "events"})
        if step != 200:
            return httpx.Response(step, json={"code": "x", "message": f"status {step}", "field": None})
        assert request.headers["authorization"] == f"Bearer {KEY}"
        with self.lock:
            self.batches.append(events)
        return httpx.Response(200, json={"ingested_count": len(events), "duplicate_count": 0, "duplicates": [],
                                         "conflict_count": 0, "conflicts": []})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.answer)

    def async_transport(self) -> httpx.MockTransport:
        async def handler(request):
            return self.answer(request)
        return httpx.MockTransport(handler)

    @property
    def delivered(self) -> list[dict]:
        return [e for b in self.batches for e in b]


def make(fake: FakeServer, **options) -> Ingestion:
    options = {"batch_size": 100, "flush_interval": 3600, "backoff_base": 0.001, "handle_signals": False, **options}
    return Ingestion(KEY, "test_mode", "api_call", "http://mb.invalid", transport=fake.transport(), **options)


def wait_for(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def test_events_get_unique_ids_timestamps_and_local_validation():
    fake = FakeServer()
    with make(fake) as ing:
        ids = [ing.track(f"cus_{i % 3}", {"endpoint": "/v1/x", "n": i, "price": Decimal("0.10")}) for i in range(500)]
        assert len(set(ids)) == 500 and all(ID_RE.match(i) for i in ids)
        assert ing.track("cus_x", event_name="other", event_id="my_id") == "my_id"
        with pytest.raises(ValidationError) as exc:
            ing.track("cus_1", {"tags": ["a", "b"]})
        assert exc.value.field == "event.metadata.tags"
        with pytest.raises(ValidationError):
            ing.track("", {})
        ing.flush()
    sent = fake.delivered
    assert [e["event_id"] for e in sent] == ids + ["my_id"]  # FIFO
    assert sent[0]["metadata"] == {"endpoint": "/v1/x", "n": 0, "price": "0.10"}  # Decimal travels as exact text
    assert all(TS_RE.match(e["timestamp"]) for e in sent)
    assert sent[-1]["event_name"] == "other"
    assert ing.stats["sent"] == 501 and ing.stats["tracked"] == 501


def test_environment_is_checked_against_the_key():
    assert key_environment("mb_live_abc") == "live_mode" and key_environment("other") is None
    with pytest.raises(ValueError, match="test_mode API key"):
        Ingestion(KEY, "live_mode", "x", handle_signals=False)
    with pytest.raises(ValueError, match="environment must be"):
        Ingestion(KEY, "prod", "x", handle_signals=False)
    with pytest.raises(ValueError, match="event_name"):
        with Ingestion(KEY, handle_signals=False) as ing:
            ing.track("cus_1")
    with Ingestion(KEY, handle_signals=False) as ing:
        assert ing.environment == "test_mode"  # derived from the key
    with Ingestion("foreign_key", "live_mode", "x", handle_signals=False) as ing:
        assert ing.environment == "live_mode"  # not a meterbase-shaped key: nothing to check against


def test_background_flush_by_size_and_by_interval():
    fake = FakeServer()
    ing = make(fake, batch_size=10)
    for i in range(25):
        ing.track("cus_1", {"i": i})
    assert wait_for(lambda: len(fake.delivered) >= 20)
    time.sleep(0.1)
    assert [len(b) for b in fake.batches] == [10, 10] and ing.pending == 5  # the rest waits for the interval
    ing.close()
    assert [len(b) for b in fake.batches] == [10, 10, 5]

    fake = FakeServer()
    ing = make(fake, flush_interval=0.05)
    for i in range(3):
        ing.track("cus_1", {"i": i})
    assert wait_for(lambda: len(fake.delivered) == 3)
    assert ing.pending == 0
    ing.close()


def test_retries_5xx_and_timeouts_with_backoff_then_delivers():
    fake = FakeServer(script=[503, httpx.ReadTimeout("slow"), 502, 200])
    with make(fake, max_retries=5) as ing:
        ing.track("cus_1", {"n": 1})
        ing.flush()
        assert ing.stats["retries"] == 3
    assert fake.attempts == 4 and len(fake.delivered) == 1


def test_4xx_is_not_retried_and_is_reported():
    errors = []
    fake = FakeServer(script=[401])
    with make(fake, on_error=lambda exc, events: errors.append((exc.status, len(events)))) as ing:
        ing.track("cus_1", {"n": 1})
        ing.track("cus_1", {"n": 2})
        ing.flush()
        assert ing.pending == 0 and ing.stats["rejected"] == 2
    assert fake.attempts == 1 and errors == [(401, 2)]


def test_422_batch_is_bisected_so_good_events_still_arrive(tmp_path):
    errors = []
    fake = FakeServer(reject_customer="cus_bad")
    spool = tmp_path / "rejected.jsonl"
    with make(fake, spool_path=spool, on_error=lambda exc, events: errors.append(events)) as ing:
        for i in range(16):
            ing.track("cus_bad" if i == 5 else "cus_ok", {"i": i})
        ing.flush()
    assert [e["metadata"]["i"] for e in fake.delivered] == [i for i in range(16) if i != 5]
    assert [[e["metadata"]["i"] for e in batch] for batch in errors] == [[5]]
    assert [orjson.loads(line)["metadata"]["i"] for line in spool.read_bytes().splitlines()] == [5]


def test_server_down_keeps_events_queued_then_delivers_in_order():
    fake = FakeServer(script=[503] * 3)
    ing = make(fake, max_retries=2)
    for i in range(5):
        ing.track("cus_1", {"i": i})
    with pytest.raises(IngestionError, match="stay queued"):
        ing.flush()
    assert ing.pending == 5 and fake.delivered == []
    ing.flush()  # the server is back
    assert [e["metadata"]["i"] for e in fake.delivered] == [0, 1, 2, 3, 4]
    ing.close()


def test_close_spools_what_cannot_be_delivered_and_refuses_new_events(tmp_path):
    fake = FakeServer(script=[503] * 100)
    spool = tmp_path / "spool.jsonl"
    ing = make(fake, max_retries=1, spool_path=spool)
    ids = [ing.track("cus_1", {"i": i}) for i in range(3)]
    ing.close()
    assert [orjson.loads(line)["event_id"] for line in spool.read_bytes().splitlines()] == ids
    assert ing.stats["spooled"] == 3 and ing.stats["lost"] == 0
    with pytest.raises(IngestionError, match="closed"):
        ing.track("cus_1", {})
    ing.close()  # idempotent


def test_queue_is_bounded():
    fake = FakeServer()
    with make(fake, max_queue=2) as ing:
        ing.track("cus_1")
        ing.track("cus_1")
        with pytest.raises(QueueFullError):
            ing.track("cus_1")


def test_backoff_is_exponential_with_jitter_and_capped():
    for attempt in range(12):
        ceiling = min(8.0, 0.25 * 2**attempt)
        assert backoff_delay(attempt, rand=lambda: 0.0) == ceiling / 2
        assert ceiling / 2 <= backoff_delay(attempt) < ceiling
    assert backoff_delay(30) < 8.0


def test_async_ingestion_batches_retries_and_flushes_on_close():
    fake = FakeServer(script=[500])

    async def main():
        ing = AsyncIngestion(KEY, "test_mode", "api_call", "http://mb.invalid", transport=fake.async_transport(),
                             batch_size=4, flush_interval=3600, backoff_base=0.001, handle_signals=False)
        async with ing:
            for i in range(10):
                ing.track("cus_1", {"i": i})
                await asyncio.sleep(0)
            for _ in range(200):
                if len(fake.delivered) >= 8:
                    break
                await asyncio.sleep(0.01)
            assert len(fake.delivered) == 8 and ing.pending == 2  # two full batches went in the background
        return ing

    ing = arun(main())
    assert [e["metadata"]["i"] for e in fake.delivered] == list(range(10))
    assert ing.stats["retries"] == 1 and ing.pending == 0


def test_async_ingestion_flushes_when_the_loop_ends():
    fake = FakeServer()

    async def main():
        ing = AsyncIngestion(KEY, None, "api_call", "http://mb.invalid", transport=fake.async_transport(),
                             flush_interval=3600, handle_signals=False)
        for i in range(3):
            ing.track("cus_1", {"i": i})
        return ing  # never flushed or closed: asyncio.run cancels its task, which delivers first

    ing = arun(main())
    assert [e["metadata"]["i"] for e in fake.delivered] == [0, 1, 2] and ing.pending == 0


def test_end_to_end_against_a_live_server(server):
    with server.ingestion("sdk.e2e", batch_size=100) as ing:
        ids = [ing.track("cus_e2e", {"tokens": str(i)}) for i in range(250)]
        ing.track("cus_e2e", {"tokens": "0"}, event_id=ids[0])  # id reused (new timestamp): ignored as a conflict
    assert ing.stats["sent"] == 251 and ing.stats["conflicts"] == 1
    stored = server.events("cus_e2e")
    assert sorted(e["event_id"] for e in stored) == sorted(ids)
    with server.http() as c:
        meter = c.post("/v1/meters", json={"name": "e2e", "event_name": "sdk.e2e",
                                           "aggregation": {"type": "sum", "key": "tokens"}}).json()
    assert server.usage(meter["id"], "cus_e2e") == sum(range(250))


def test_async_end_to_end_against_a_live_server(server):
    async def main():
        async with AsyncIngestion(server.test_key, "test_mode", "sdk.async", server.url, batch_size=7,
                                  handle_signals=False) as ing:
            for i in range(20):
                ing.track("cus_async", {"n": i})
        return ing

    ing = arun(main())
    assert ing.stats["sent"] == 20
    assert sorted(e["metadata"]["n"] for e in server.events("cus_async")) == list(range(20))


def test_async_meterbase_client(server):
    from meterbase.sdk import AsyncMeterbase

    async def main():
        async with AsyncMeterbase(server.test_key, server.url) as mb:
            reply = await mb.track("cus_amb", "sdk.amb", {"n": 2})
            meter = await mb.create_meter("amb", "sdk.amb", "sum", "n")
            return reply, meter, await mb.usage(meter["id"], customer_id="cus_amb", window="month")

    reply, meter, usage = arun(main())
    assert reply["ingested_count"] == 1 and meter["aggregation"] == {"type": "sum", "key": "n"}
    assert usage["data"][0]["value"] == "2"
