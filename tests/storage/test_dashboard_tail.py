"""Dashboard meter figures include the events after the fold watermark (acked, not yet folded)."""

from __future__ import annotations

from meterbase.storage import dashboard_queries as q

ENV = "test_mode"
DAY = 86_400_000_000


def _ingest(store, prefix, customers, n, value="2"):
    store.ingest(ENV, [{"event_id": f"{prefix}{i}", "customer_id": customers[i % len(customers)], "event_name": "job",
                        "timestamp": "2025-03-01T12:00:00Z", "metadata": {"s": value}} for i in range(n)])


def test_meter_stats_and_customers_count_folded_and_unfolded_events_once(store):
    m = store.create_meter(ENV, {"name": "secs", "event_name": "job", "aggregation": {"type": "sum", "key": "s"}})
    _ingest(store, "a", ["c1", "c2"], 6)
    store.fold()
    _ingest(store, "b", ["c2", "c3"], 4)  # c2 folded and unfolded, c3 unfolded only
    _ingest(store, "x", ["c4"], 1, value="oops")  # rejected value, unfolded
    start = 1740787200000000 - 2 * DAY  # 2025-02-27
    with store.read() as conn:
        stats = q.meter_stats(conn, ENV, start)[m.id]
        customers = q.meter_customers(conn, m.id, meter=m)
    assert (stats.events, stats.rejected, stats.customers) == (11, 1, 4)
    assert customers == ["c1", "c2", "c3", "c4"]
    store.fold()
    with store.read() as conn:
        assert q.meter_stats(conn, ENV, start)[m.id] == stats
        assert q.meter_customers(conn, m.id, meter=m) == customers


def _names_table(store) -> list[str]:
    from sqlalchemy import select

    from meterbase.storage.schema_eventstore import event_names

    with store.read() as conn:
        return sorted(conn.execute(select(event_names.c.event_name).where(event_names.c.environment == ENV)).scalars())


def test_event_names_come_from_the_folder_table_plus_the_unfolded_tail(store):
    store.create_meter(ENV, {"name": "jobs", "event_name": "job", "aggregation": {"type": "count"}})
    _ingest(store, "a", ["c1"], 3)  # "job": a meter counts it
    store.ingest(ENV, [{"event_id": "n1", "customer_id": "c1", "event_name": "no.meter", "timestamp": "2025-03-01T12:00:00Z"}])
    assert _names_table(store) == []
    with store.read() as conn:
        assert q.event_names(conn, ENV) == ["job", "no.meter"]  # all from the tail
    store.fold()
    assert _names_table(store) == ["job", "no.meter"]  # names without a meter are recorded too
    store.ingest(ENV, [{"event_id": "z1", "customer_id": "c2", "event_name": "alpha", "timestamp": "2025-03-01T12:00:00Z"},
                       {"event_id": "z2", "customer_id": "c2", "event_name": "job", "timestamp": "2025-03-01T12:00:00Z"}])
    with store.read() as conn:
        assert q.event_names(conn, ENV) == ["alpha", "job", "no.meter"]  # folded + unfolded, each once
        assert q.event_names(conn, ENV, limit=2) == ["alpha", "job"]
        assert q.event_names(conn, "live_mode") == []
    store.fold()
    assert _names_table(store) == ["alpha", "job", "no.meter"]
    with store.read() as conn:
        assert q.event_names(conn, ENV) == ["alpha", "job", "no.meter"]
