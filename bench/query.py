"""2. Meter queries at scale: usage from rollups vs a naive raw-event scan, at two data sizes.

Both datasets span the same 31 days (March 2025) for the same 10,000 customers, so the large one is
denser: a naive scan has ~N times more events to read, while rollup queries read the same number of
hour/day buckets for one customer. The query range ``[2025-03-01, 2025-03-31T13:37Z)`` exercises all
three paths (30 day buckets, 13 hour buckets, 37 minutes of raw edge).

Every rollup answer is checked against the naive scan (a brute-force aggregation with the library's
own :class:`Partial`), window by window and customer by customer — the loader's rollups must equal
what ingest would have produced.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone

from .common import ENV, Section, fresh_database, median, temp_dir
from .data import QUERY_METER, customer_id
from .loader import bulk_load

START = datetime(2025, 3, 1, tzinfo=timezone.utc)
Q_FROM = datetime(2025, 3, 1, tzinfo=timezone.utc)
Q_TO = datetime(2025, 3, 31, 13, 37, tzinfo=timezone.utc)
HEAVY = customer_id(0)  # the heaviest customer (~1% of all events)


@dataclass
class QueryConfig:
    small: int = 1_000_000
    large: int = 3_000_000  # 10M loads in ~4-8 min on 2 cores: use --events-large 10000000 (see README)
    backend: str = "sqlite"
    repeats: int = 5
    naive_repeats: int = 1


QUERIES = [
    # (label, window, customer)
    ("one customer, month", "month", HEAVY),
    ("all customers, month", "month", None),
    ("one customer, hour windows", "hour", HEAVY),
]


def _us(dt: datetime) -> int:
    from meterbase.timeutil import to_us

    return to_us(dt)


def naive_usage(store, meter, start: int, end: int, window: str, customer: str | None):
    """What usage would cost without rollups: scan every raw event of the range and aggregate."""
    from meterbase.meters.aggregate import Partial
    from meterbase.meters.windows import windows
    from meterbase.storage import events_repo

    bounds = windows(start, end, window, "UTC")
    starts = [s for s, _ in bounds]
    series: dict[str, list] = defaultdict(lambda: [Partial() for _ in bounds])
    pred = meter.predicate
    with store.read() as conn:
        for seq, cust, ts, meta in events_repo.scan(conn, ENV, meter.event_name, start, end, customer):
            if pred(meta):
                series[cust][bisect_right(starts, ts) - 1].add_event(meter, meta, ts, seq)
    return series


def _summary(agg: str, per_customer: dict) -> dict:
    return {c: [(p.events, p.value(agg)) for p in ws] for c, ws in per_customer.items() if any(p.events for p in ws)}


def _timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return median(times), out


def run_size(n: int, cfg: QueryConfig, tmp, log=print) -> dict:
    from meterbase.storage import Store

    with fresh_database(cfg.backend, tmp) as url:
        load = bulk_load(url, n, _us(START), days=31, log=log)
        meter_id = load["meter_ids"][QUERY_METER]
        store = Store(url)
        try:
            meter = store.get_meter(ENV, meter_id)
            start, end = _us(Q_FROM), _us(Q_TO)
            out = {"events": n, "load": load, "queries": {}}
            for label, window, cust in QUERIES:
                def rollup_q(window=window, cust=cust):
                    return store.usage(ENV, meter_id, start, end, window, "UTC", cust)

                rollup_q()  # warm caches (what a live server has)
                reps = cfg.repeats if cust else max(1, cfg.repeats // 2)
                t_roll, res = _timed(rollup_q, reps)
                t_naive, naive = _timed(lambda window=window, cust=cust: naive_usage(store, meter, start, end, window, cust),
                                        cfg.naive_repeats)
                got = _summary(meter.aggregation, {s.customer_id: s.windows for s in res.series})
                want = _summary(meter.aggregation, naive)
                scanned = sum(p[0] for ws in want.values() for p in ws)
                out["queries"][label] = {"rollup_ms": t_roll * 1e3, "naive_ms": t_naive * 1e3, "verified": got == want,
                                         "customers": len(want), "windows": len(res.bounds), "events_in_range": scanned,
                                         "repeats": reps}
                log(f"    {n:,} events | {label}: rollups {t_roll * 1e3:.1f} ms, naive scan {t_naive * 1e3:.1f} ms "
                    f"({scanned:,} events), {'exact' if got == want else 'MISMATCH'}")
            return out
        finally:
            store.close()


COLUMNS = ["query", "small ms", "large ms", "ratio", "target", "naive small ms", "naive large ms", "naive ratio",
           "speedup @large", "verified"]


def run(cfg: QueryConfig, log=print) -> Section:
    sec = Section("query", f"2. Meter usage query ({cfg.backend}): {cfg.small:,} vs {cfg.large:,} events", COLUMNS)
    with temp_dir() as tmp:
        small = run_size(cfg.small, cfg, tmp, log)
        large = run_size(cfg.large, cfg, tmp, log)
    for label, _, _ in QUERIES:
        a, b = small["queries"][label], large["queries"][label]
        ratio = b["rollup_ms"] / a["rollup_ms"] if a["rollup_ms"] else float("nan")
        sec.rows.append({
            "query": label, "small ms": a["rollup_ms"], "large ms": b["rollup_ms"], "ratio": ratio, "target": "≈ 1",
            "naive small ms": a["naive_ms"], "naive large ms": b["naive_ms"],
            "naive ratio": b["naive_ms"] / a["naive_ms"] if a["naive_ms"] else float("nan"),
            "speedup @large": b["naive_ms"] / b["rollup_ms"] if b["rollup_ms"] else float("nan"),
            "verified": "exact" if a["verified"] and b["verified"] else "MISMATCH",
        })
    sec.details = {"small": small, "large": large, "meter": QUERY_METER, "customer": HEAVY,
                   "range": [Q_FROM.isoformat(), Q_TO.isoformat()], "backend": cfg.backend}
    sec.notes.append(f"sizes: small = {cfg.small:,}, large = {cfg.large:,} events over 31 days, 10k customers; "
                     f"'{QUERY_METER}' (exact sum of string numbers); one customer = {HEAVY}, the heaviest (~1% of events).")
    for tag, d in (("small", small), ("large", large)):
        ld = d["load"]
        sec.notes.append(f"bulk load {tag}: {ld['events']:,} events + {ld['rollup_rows']:,} rollup rows in "
                         f"{ld['load_seconds']:.0f} s ({ld['events_per_s']:,} events/s, {ld['processes']} processes).")
    sec.notes.append("'all customers' is bounded by customers × buckets, so it grows with data density until every "
                     "customer-day bucket is filled; 'naive' scans raw events in the same process (every answer verified equal).")
    if any(r["verified"] != "exact" for r in sec.rows):
        sec.status = "error"
    return sec
