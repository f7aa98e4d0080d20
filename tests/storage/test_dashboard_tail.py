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
