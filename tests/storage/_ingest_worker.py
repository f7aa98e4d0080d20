"""Worker process for the concurrent-ingest test (spawned: must be importable, no fixtures)."""

from __future__ import annotations

import random


def ingest_overlapping(url: str, seed: int, total: int, batch: int) -> tuple[int, int]:
    from meterbase.storage import open_store

    rng = random.Random(seed)
    ids = list(range(total))
    rng.shuffle(ids)  # every worker sends every id, each in its own order
    store = open_store(url)
    ingested = duplicates = 0
    try:
        for i in range(0, total, batch):
            events = [{"event_id": f"ev_{n}", "customer_id": f"cus_{n % 7}", "event_name": "api.call",
                       "timestamp": "2025-01-21T10:30:00Z", "metadata": {"tokens": str(n)}} for n in ids[i:i + batch]]
            result = store.ingest("test_mode", events)
            ingested += result.ingested
            duplicates += len(result.duplicates)
            assert not result.conflicts
    finally:
        store.close()
    return ingested, duplicates
