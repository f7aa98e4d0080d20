"""Several OS processes ingest overlapping event ids at once: each id is stored and counted once."""

from __future__ import annotations

import multiprocessing as mp
from decimal import Decimal

from meterbase.timeutil import parse_instant, to_us

from ._ingest_worker import ingest_overlapping

WORKERS, TOTAL, BATCH = 8, 2000, 250


def test_processes_with_overlapping_ids_count_each_id_once(fresh_store_url):
    url = fresh_store_url()
    from meterbase.storage import open_store

    store = open_store(url)
    count = store.create_meter("test_mode", {"name": "calls", "event_name": "api.call", "aggregation": {"type": "count"}})
    tokens = store.create_meter("test_mode", {"name": "tokens", "event_name": "api.call",
                                              "aggregation": {"type": "sum", "key": "tokens"}})
    with mp.get_context("spawn").Pool(WORKERS) as pool:
        results = pool.starmap(ingest_overlapping, [(url, seed, TOTAL, BATCH) for seed in range(WORKERS)])

    assert sum(i for i, _ in results) == TOTAL  # every id acknowledged as new exactly once
    assert sum(d for _, d in results) == TOTAL * (WORKERS - 1)  # every other sighting reported as a duplicate
    assert store.count_events("test_mode") == TOTAL
    day = to_us(parse_instant("2025-01-21"))
    for meter, expected in ((count, Decimal(TOTAL)), (tokens, Decimal(sum(range(TOTAL))))):
        usage = store.usage("test_mode", meter.id, day, day + 86_400_000_000, "day")
        assert sum(s.total().value(meter.aggregation) for s in usage.series) == expected
    store.close()
