"""``time_weighted`` month queries from raw events: ``python -m bench.time_weighted [--events N] [--customers C]``.

One event name, ``C`` customers, ``N`` gauge snapshots spread evenly over 2024 and 2025 (so a month
query has a year of history before it). Measures, on SQLite and PostgreSQL (when reachable):

* one customer's December 2025 total (gauge: walk back for the opening level + the month's events);
* the same with a ``delta`` meter (reads the customer's whole history before the month);
* every customer's December total at once (``meter_totals``, an invoice run's read).

Each answer is checked against a brute-force integral in Python. Prints a table; no thresholds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from meterbase.exact import quotient
from meterbase.storage import open_store, usage
from meterbase.timeutil import to_us

from .common import fresh_database, pg_available

ENV = "test_mode"
START = to_us(datetime(2024, 1, 1, tzinfo=timezone.utc))
END = to_us(datetime(2026, 1, 1, tzinfo=timezone.utc))
DEC = to_us(datetime(2025, 12, 1, tzinfo=timezone.utc))
HOUR = 3_600_000_000


def _events(n: int, customers: int) -> list[dict]:
    step = (END - START) // n
    return [{"event_id": f"s{i}", "customer_id": f"cus_{i % customers}", "event_name": "disk",
             "timestamp": datetime.fromtimestamp((START + i * step) / 1e6, timezone.utc).isoformat(),
             "metadata": {"gb": (i * 7919) % 1000}} for i in range(n)]


def _brute(events: list[dict], customer: str, mode: str) -> Decimal:
    level, at, total = Decimal(0), DEC, Decimal(0)
    for e in events:
        if e["customer_id"] != customer:
            continue
        ts = to_us(datetime.fromisoformat(e["timestamp"]))
        if ts >= END:
            break
        if ts > DEC:
            total += level * (ts - max(at, DEC))
            at = ts
        v = Decimal(e["metadata"]["gb"])
        level = v if mode == "gauge" else level + v
    total += level * (END - max(at, DEC))
    return quotient(total, HOUR)


def _timed(fn, repeat: int = 3):
    best, out = None, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return out, best


def run(n: int, customers: int, backends: list[str]) -> list[tuple]:
    events = _events(n, customers)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            with fresh_database(backend, Path(tmp)) as url:
                store = open_store(url)
                try:
                    meters = {mode: store.create_meter(ENV, {"name": mode, "event_name": "disk", "aggregation": {
                        "type": "time_weighted", "key": "gb", "mode": mode, "per": "hour"}}) for mode in ("gauge", "delta")}
                    for i in range(0, len(events), 1000):
                        store.ingest(ENV, events[i:i + 1000])
                    with store.read() as conn:
                        for mode, meter in meters.items():
                            got, dt = _timed(lambda: usage.meter_total(conn, meter, DEC, END, "cus_0").value("time_weighted"))
                            assert got == _brute(events, "cus_0", mode), (mode, got)
                            rows.append((backend, f"{mode}, one customer", f"{dt * 1000:.1f} ms"))
                        totals, dt = _timed(lambda: usage.meter_totals(conn, meters["gauge"], DEC, END), repeat=1)
                        assert totals["cus_1"].value("time_weighted") == _brute(events, "cus_1", "gauge")
                        rows.append((backend, f"gauge, all {len(totals)} customers", f"{dt * 1000:.1f} ms"))
                finally:
                    store.close()
    return rows


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.time_weighted", description=__doc__)
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--customers", type=int, default=100)
    a = p.parse_args()
    backends = ["sqlite"] + (["postgresql"] if pg_available() else [])
    print(f"{a.events} events, {a.customers} customers, 2 years; December 2025 totals (best of 3)")
    for row in run(a.events, a.customers, backends):
        print(" | ".join(row))


if __name__ == "__main__":
    main()
