"""The event store's fold: rollups up to the watermark plus the raw tail after it answer exactly.

* any split between folded and unfolded events (folds of random chunk sizes between batches, meters
  created at any point) gives usage equal to the brute-force reference of ``test_usage_properties``;
* a usage query after an acknowledged ingest is exact while the folder is paused (read-your-writes);
* folding is idempotent (a second fold adds nothing) and a fold that dies mid-transaction leaves
  rollups and watermark as they were;
* ingesting threads with a folder running concurrently never see a count other than the exact one.
"""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from meterbase.eventstore import EventStore
from meterbase.storage import fold as folding, open_store, rollups
from meterbase.storage.schema import meter_rollups
from test_usage_properties import (BASE, ENV, HOUR, METERS, check_query, meter_body, raw_event, scenario_st)


@st.composite
def fold_plan_st(draw):
    scenario = draw(scenario_st())
    nb = len(scenario[1])
    # after each batch: no fold, or one fold of a random chunk size (a partial fold leaves a tail)
    folds = draw(st.lists(st.one_of(st.none(), st.integers(1, 12)), min_size=nb, max_size=nb))
    return scenario, folds


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(plan=fold_plan_st())
def test_usage_with_any_fold_split_equals_reference(fresh_store_url, plan):
    (events, batches, _replay, _conflicts, mid_after, flt, queries), folds = plan
    raws = [raw_event(i, ev) for i, ev in enumerate(events)]
    store = open_store(fresh_store_url())
    try:
        meters = {(agg, key, "before"): store.create_meter(ENV, meter_body(agg, flt, "before", key)) for agg, key in METERS}
        stored = []
        for bi, batch in enumerate(batches):
            assert store.ingest(ENV, [raws[i] for i in batch]).ingested == len(batch)
            stored.extend((events[i][0], events[i][1], BASE + events[i][2], events[i][3]) for i in batch)
            if folds[bi] is not None:
                folding.fold(store, ENV, max_events=folds[bi])
            if bi == mid_after:  # a meter created with part of the log folded: backfilled up to the watermark
                for agg, key in METERS:
                    meters[(agg, key, "mid")] = store.create_meter(ENV, meter_body(agg, flt, "mid", key))
        for (agg, key, _when), meter in meters.items():
            for q in queries:
                check_query(store, meter, agg, key, flt, stored, q)
        store.fold()  # everything folded: the same answers from rollups alone
        with store.read() as conn:
            assert store.events.watermark(conn, ENV) == store.events.latest_seq(conn, ENV)
        for (agg, key, _when), meter in meters.items():
            for q in queries:
                check_query(store, meter, agg, key, flt, stored, q)
    finally:
        store.close()


def _batch(prefix: str, n: int, customer: str = "c1", start: int = BASE) -> list[dict]:
    return [{"event_id": f"{prefix}-{i}", "customer_id": customer, "event_name": "api_call",
             "timestamp": raw_event(0, ("c", "x", start - BASE + i * 1_000_000, {}))["timestamp"], "metadata": {"k": 2}}
            for i in range(n)]


def _count_meter(store):
    return store.create_meter(ENV, {"name": "calls", "event_name": "api_call", "aggregation": {"type": "count"}})


def _sum_meter(store):
    return store.create_meter(ENV, {"name": "k", "event_name": "api_call", "aggregation": {"type": "sum", "key": "k"}})


def _day_count(store, meter, customer=None) -> int:
    res = store.usage(ENV, meter.id, BASE - BASE % (24 * HOUR), BASE - BASE % (24 * HOUR) + 2 * 24 * HOUR, "day", "UTC", customer)
    return sum(p.events for s in res.series for p in s.windows)


def _rollup_rows(store) -> list[tuple]:
    with store.read() as conn:
        return sorted(tuple(r) for r in conn.execute(select(meter_rollups)))


def test_event_store_implements_the_interface(store):
    assert isinstance(store.events, EventStore)


def test_usage_after_ack_is_exact_while_the_folder_is_paused(store):
    meter = _count_meter(store)
    total = _sum_meter(store)
    folder = store.start_folder(interval=0.01)
    store.ingest(ENV, _batch("a", 50))
    store.fold()
    folder.pause()
    for round_ in range(3):  # acknowledged, unfolded: counted exactly, every time
        store.ingest(ENV, _batch(f"p{round_}", 30, start=BASE + 2 * HOUR))
        assert _day_count(store, meter) == 50 + 30 * (round_ + 1)
        assert _day_count(store, meter, "c1") == 50 + 30 * (round_ + 1)
        assert store.meter_total(ENV, total.id, "c1", BASE - HOUR, BASE + 4 * HOUR).sum == 2 * (50 + 30 * (round_ + 1))
    with store.read() as conn:
        assert store.events.watermark(conn, ENV) < store.events.latest_seq(conn, ENV)
    folder.resume()
    store.fold()
    assert _day_count(store, meter) == 140


def test_fold_twice_adds_nothing(store):
    meter = _count_meter(store)
    store.ingest(ENV, _batch("a", 40))
    assert store.fold() == 40
    before = _rollup_rows(store)
    assert store.fold() == 0
    assert folding.fold(store, ENV) == 0
    assert _rollup_rows(store) == before
    assert _day_count(store, meter) == 40


def test_a_fold_that_dies_mid_transaction_changes_nothing(store, monkeypatch):
    meter = _count_meter(store)
    store.ingest(ENV, _batch("a", 25))
    real_write = rollups.write_rows

    def crash(conn, rows):
        real_write(conn, rows)  # the rollups are written ...
        raise RuntimeError("power cut")  # ... and the process dies before the watermark commits

    monkeypatch.setattr(rollups, "write_rows", crash)
    with pytest.raises(RuntimeError):
        folding.fold(store, ENV)
    monkeypatch.setattr(rollups, "write_rows", real_write)
    assert _rollup_rows(store) == []
    with store.read() as conn:
        assert store.events.watermark(conn, ENV) == 0
    assert _day_count(store, meter) == 25  # still exact: all of it from the tail
    assert store.fold() == 25
    assert _day_count(store, meter) == 25


def test_meter_created_between_folds_counts_each_event_once(store):
    store.ingest(ENV, _batch("a", 10))
    store.fold()
    store.ingest(ENV, _batch("b", 7))  # unfolded when the meter is created
    meter = _count_meter(store)
    assert _day_count(store, meter) == 17
    store.fold()
    assert _day_count(store, meter) == 17
    with store.read() as conn:
        events = conn.execute(select(func.sum(meter_rollups.c.events)).where(
            meter_rollups.c.meter_id == meter.id, meter_rollups.c.grain == 1)).scalar()
    assert events == 17


def test_ingest_threads_with_a_running_folder_always_read_exact_counts(store):
    meter = _count_meter(store)
    store.start_folder(interval=0.005)
    store.folder.max_events = 7  # many small folds interleave with the ingests
    errors: list = []
    acked = {"n": 0}
    lock = threading.Lock()

    def worker(w: int):
        try:
            for b in range(6):
                store.ingest(ENV, _batch(f"w{w}-{b}", 9, customer=f"c{w}"))
                with lock:
                    acked["n"] += 9
                    floor = acked["n"]
                got = _day_count(store, meter)
                assert floor <= got <= 4 * 6 * 9, (floor, got)  # everything acknowledged is there, nothing twice
                assert _day_count(store, meter, f"c{w}") == 9 * (b + 1)  # this thread's own writes, exactly
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store.folder.stop()
    store.fold()
    assert _day_count(store, meter) == 4 * 6 * 9


def _racing_read(store, monkeypatch, race):
    """Run ``race()`` once, between a fold's read of its chunk and its write (both backends read the chunk
    outside the lock that the write takes)."""
    real = folding.read_chunk
    done: list = []
    started: list = []

    def racing(conn, *args, **kwargs):
        out = real(conn, *args, **kwargs)
        if not started:
            started.append(True)
            done.append(race())
        return out

    monkeypatch.setattr(folding, "read_chunk", racing)
    return done


def _meter_rollup_events(store, meter) -> int:
    with store.read() as conn:
        return conn.execute(select(func.coalesce(func.sum(meter_rollups.c.events), 0)).where(
            meter_rollups.c.meter_id == meter.id, meter_rollups.c.grain == 1)).scalar()


def test_a_meter_created_while_a_chunk_is_read_gets_every_event_once(store, monkeypatch):
    first = _count_meter(store)
    store.ingest(ENV, _batch("a", 12))
    done = _racing_read(store, monkeypatch, lambda: _sum_meter(store))  # backfilled up to the old watermark
    store.fold()
    (late,) = done
    assert _meter_rollup_events(store, first) == 12
    assert _meter_rollup_events(store, late) == 12  # not 0 (missed) nor 24 (twice)
    assert store.meter_total(ENV, late.id, "c1", BASE - HOUR, BASE + 4 * HOUR).sum == 24


def test_a_chunk_folded_by_another_folder_meanwhile_is_not_added_twice(store, monkeypatch):
    meter = _count_meter(store)
    store.ingest(ENV, _batch("a", 15))

    def other_folder():
        with store.write() as conn:
            return folding.fold_chunk(conn, ENV, 2**62, store.now())

    done = _racing_read(store, monkeypatch, other_folder)
    store.fold()
    assert done == [15]
    assert _meter_rollup_events(store, meter) == 15
    assert _day_count(store, meter) == 15


def test_each_meter_merges_the_columns_its_member_reads(store):
    """Folded in two chunks (the second merges into the first's rows), each member's columns are exact and
    the columns it does not read keep an empty partial's value."""
    body = {"event_name": "api_call", "aggregation": {"key": "k"}}
    meters = {agg: store.create_meter(ENV, {**body, "name": agg, "aggregation": {"type": agg, "key": "k"}})
              for agg in ("sum", "max", "last")}
    count = _count_meter(store)
    for prefix, k in (("a", 2), ("b", 5)):
        store.ingest(ENV, [{**e, "metadata": {"k": k + i}} for i, e in enumerate(_batch(prefix, 3))])
        store.fold()
    with store.read() as conn:
        rows = {row.meter_id: row for row in conn.execute(select(meter_rollups).where(meter_rollups.c.grain == 1))}
    dec = lambda v: None if v is None else str(v)  # noqa: E731 - NUMERIC on PostgreSQL, text on SQLite
    got = {agg: (rows[m.id].events, rows[m.id].n, dec(rows[m.id].sum), dec(rows[m.id].min), dec(rows[m.id].max),
                 dec(rows[m.id].last_value)) for agg, m in meters.items()}
    assert got == {"sum": (6, 6, "27", None, None, None), "max": (6, 6, "0", None, "7", None),
                   "last": (6, 6, "0", None, None, "7")}
    assert (rows[count.id].events, rows[count.id].n, dec(rows[count.id].sum)) == (6, 0, "0")
    assert rows[meters["sum"].id].last_ts == -1 and rows[meters["last"].id].last_ts > 0
    assert store.meter_total(ENV, meters["max"].id, "c1", BASE - HOUR, BASE + 4 * HOUR).max == 7
