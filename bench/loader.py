"""Fast bulk loader for the query benchmark: millions of events plus their rollups, in minutes.

It writes exactly what ingest would: event rows through the driver's bulk path (SQLite ``executemany``
in big transactions, PostgreSQL ``COPY``), and rollups computed by the library's own
:func:`meterbase.storage.rollups.accumulate` — the function ingest uses — so they are the same
partials by construction (and the query benchmark checks queries against a brute-force scan).

Speed comes from: one UTC day per task on a process pool (day buckets never straddle tasks, so every
rollup key is written once with a plain INSERT), pre-assigned ``seq`` ranges, a pool of pre-serialized
metadata, and the events table's secondary indexes dropped during the load and rebuilt afterwards.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import time
from dataclasses import dataclass

from .common import ENV, cores
from .data import EVENT_NAMES, METERS, MetadataPool, N_CUSTOMERS

DAY_US = 86_400_000_000
EVENT_COLS = ("seq", "environment", "event_id", "customer_id", "event_name", "ts", "metadata", "fingerprint", "ingested_at")
ROLLUP_COLS = ("meter_id", "grain", "customer_id", "bucket", "events", "n", "sum", "min", "max", "last_ts", "last_seq",
               "last_value", "rejected")


@dataclass
class DayTask:
    url: str
    day: int
    start_us: int
    count: int
    seq_start: int
    seed: int


def day_events(task: DayTask, pool: MetadataPool):
    """The events of one day, sorted by time: ``(seq, customer_id, event_name, ts, metadata_pool_index)``."""
    rng = random.Random(task.seed * 100_003 + task.day)  # (..., pool index k) is the last element
    n = task.count
    names = rng.choices(pool.names, pool.weights, k=n)
    ts = sorted(task.start_us + int(rng.random() * DAY_US) for _ in range(n))
    rand = rng.random
    per = pool.per_name
    out = []
    seq = task.seq_start
    for i in range(n):
        name = names[i]
        u = rand()
        k = int(rand() * per)
        out.append((seq, f"cus_{int(N_CUSTOMERS * u * u):05d}", name, ts[i], k))
        seq += 1
    return out


_POOL: MetadataPool | None = None
_ENGINE = None
_METERS = None
_PLAN = None


def fast_plan(meters_by_name, pool: MetadataPool):
    """Per metadata-pool entry, the matching meters and their pre-parsed values: ``[(meter_id, kind, value)]``.

    Filters and numeric parsing run once per pool entry with the library's own functions
    (:func:`matches`, :func:`to_decimal`), not once per event. Returns None when a meter needs the
    general path (``unique_count``).
    """
    from meterbase.events.values import to_decimal
    from meterbase.meters.aggregate import matches

    plan = {}
    for name in pool.names:
        ms = meters_by_name.get(name, [])
        if any(m.aggregation == "unique_count" for m in ms):
            return None
        plan[name] = [
            [(m.id, m.aggregation == "count", None if m.aggregation == "count" else to_decimal(md.get(m.key)))
             for m in ms if matches(m, name, md)]
            for md in pool.dicts[name]
        ]
    return plan


def fast_accumulate(plan, events):
    """Same partials as :func:`rollups.accumulate` (checked against it on every load) for
    ``(seq, customer_id, event_name, ts, pool_index)``, but each event only does dict lookups and
    Decimal arithmetic through :meth:`Partial.add_value` — the same fold ingest uses."""
    from meterbase.meters.aggregate import Partial
    from meterbase.storage.rollups import _GRAIN_STEPS

    partials: dict = {}
    get = partials.get
    for seq, cust, name, ts, k in events:
        for mid, is_count, d in plan[name][k]:
            for code, step in _GRAIN_STEPS:
                key = (mid, code, cust, ts - ts % step)
                p = get(key)
                if p is None:
                    p = partials[key] = Partial()
                p.events += 1
                if is_count:
                    continue
                if d is None:
                    p.rejected += 1
                else:
                    p.add_value(d, ts, seq)
    return partials, set()


def _worker_init(url: str, seed: int) -> None:
    global _POOL, _ENGINE, _METERS, _PLAN
    from meterbase.storage import meters_repo
    from meterbase.storage.engine import make_engines

    _POOL = MetadataPool(seed)
    _ENGINE = make_engines(url)[0]
    with _ENGINE.connect() as conn:
        _METERS = meters_repo.meters_for_events(conn, ENV, {n for n, _ in EVENT_NAMES})
        conn.rollback()
    _PLAN = fast_plan(_METERS, _POOL)


def reference_check(task: "DayTask", limit: int = 20_000) -> int:
    """Fold the first ``limit`` events of a day with both accumulators; raise unless identical."""
    from meterbase.storage import rollups

    evs = day_events(task, _POOL)[:limit]
    want, _ = rollups.accumulate(_METERS, ((s, c, n, t, _POOL.dicts[n][k]) for s, c, n, t, k in evs))
    got, _ = fast_accumulate(_PLAN, evs) if _PLAN is not None else (want, None)
    if dict(want) != got:
        bad = next(k for k in set(want) | set(got) if want.get(k) != got.get(k))
        raise AssertionError(f"fast rollups differ from rollups.accumulate at {bad}: {got.get(bad)} != {want.get(bad)}")
    return len(want)


def _load_day(task: DayTask) -> tuple[int, int, float, float]:
    from meterbase.storage import rollups

    t0 = time.perf_counter()
    evs = day_events(task, _POOL)
    pj = _POOL.json
    rows = [(seq, ENV, f"evt_{seq:012d}", cust, name, ts, pj[name][k], f"{seq:024x}", ts) for seq, cust, name, ts, k in evs]
    if _PLAN is not None:
        partials, distinct = fast_accumulate(_PLAN, evs)
    else:
        pd = _POOL.dicts
        partials, distinct = rollups.accumulate(_METERS, ((s, c, n, t, pd[n][k]) for s, c, n, t, k in evs))
    pg = _ENGINE.dialect.name == "postgresql"
    conv = (lambda d: d) if pg else (lambda d: None if d is None else str(d))
    rrows = sorted((k[0], k[1], k[2], k[3], p.events, p.n, conv(p.sum), conv(p.min), conv(p.max), p.last_ts, p.last_seq,
                    conv(p.last_value), p.rejected) for k, p in partials.items())
    drows = list(distinct)
    t1 = time.perf_counter()
    if not pg:
        _write_sqlite(_ENGINE.url.database, rows, rrows, drows)
        return len(rows), len(rrows), t1 - t0, time.perf_counter() - t1
    raw = _ENGINE.raw_connection()
    try:
        dc = raw.driver_connection
        if pg:
            with dc.cursor() as cur:
                with cur.copy(f"COPY events ({', '.join(EVENT_COLS)}) FROM STDIN") as cp:
                    for r in rows:
                        cp.write_row(r)
                with cur.copy(f"COPY meter_rollups ({', '.join(ROLLUP_COLS)}) FROM STDIN") as cp:
                    for r in rrows:
                        cp.write_row(r)
                if drows:
                    with cur.copy("COPY meter_distinct (meter_id, grain, customer_id, bucket, value) FROM STDIN") as cp:
                        for r in drows:
                            cp.write_row(r)
            dc.commit()
    finally:
        raw.close()
    return len(rows), len(rrows), t1 - t0, time.perf_counter() - t1


_SQLITE = None


def _write_sqlite(path: str, rows, rrows, drows) -> None:
    """Plain sqlite3 (the database is in ``journal_mode=OFF`` for the load; restored to WAL after)."""
    global _SQLITE
    import sqlite3

    if _SQLITE is None:
        _SQLITE = sqlite3.connect(path, timeout=3600, isolation_level=None)
        _SQLITE.execute("PRAGMA synchronous=OFF")
        _SQLITE.execute("PRAGMA cache_size=-400000")
    dc = _SQLITE
    dc.execute("BEGIN IMMEDIATE")
    dc.executemany(f"INSERT INTO events ({', '.join(EVENT_COLS)}) VALUES ({', '.join('?' * len(EVENT_COLS))})", rows)
    dc.executemany(f"INSERT INTO meter_rollups ({', '.join(ROLLUP_COLS)}) VALUES ({', '.join('?' * len(ROLLUP_COLS))})", rrows)
    if drows:
        dc.executemany("INSERT INTO meter_distinct (meter_id, grain, customer_id, bucket, value) VALUES (?,?,?,?,?)", drows)
    dc.execute("COMMIT")


def bulk_load(url: str, n_events: int, start_us: int, days: int = 31, seed: int = 7, procs: int = 0, log=print) -> dict:
    """Create the benchmark meters and load ``n_events`` spread over ``days`` UTC days from ``start_us``."""
    from sqlalchemy import inspect, text

    from meterbase.storage import open_store

    t_all = time.perf_counter()
    store = open_store(url)
    meters = {spec["name"]: store.create_meter(ENV, spec) for spec in METERS}
    pg = store.write_engine.dialect.name == "postgresql"
    with store.write_engine.connect() as conn:
        insp = inspect(conn)
        idx = [(tbl, i) for tbl in ("events", "meter_rollups") for i in insp.get_indexes(tbl) if not i.get("unique")]
        conn.rollback()
    with store.write() as conn:
        for _, i in idx:
            conn.exec_driver_sql(f"DROP INDEX {i['name']}")
    db_path = None if pg else store.write_engine.url.database
    store.close()
    if db_path:
        import sqlite3

        c = sqlite3.connect(db_path, isolation_level=None)
        c.execute("PRAGMA journal_mode=OFF")  # bulk load only; the Store switches back to WAL on its next connect
        c.close()

    base, rem = divmod(n_events, days)
    tasks, seq = [], 1
    for d in range(days):
        c = base + (1 if d < rem else 0)
        tasks.append(DayTask(url, d, start_us + d * DAY_US, c, seq, seed))
        seq += c
    procs = procs or cores()
    t0 = time.perf_counter()
    n_ev = n_roll = 0
    cpu_gen = cpu_write = 0.0
    ctx = mp.get_context("fork")
    with ctx.Pool(procs, initializer=_worker_init, initargs=(url, seed)) as pool:
        checked_keys = pool.apply(reference_check, (tasks[0],))
        for ne, nr, tg, tw in pool.imap_unordered(_load_day, tasks):
            n_ev += ne
            n_roll += nr
            cpu_gen += tg
            cpu_write += tw
    t_rows = time.perf_counter() - t0

    t1 = time.perf_counter()
    store = open_store(url)
    with store.write() as conn:
        for tbl, i in idx:
            cols = ", ".join(i["column_names"])
            conn.exec_driver_sql(f"CREATE INDEX {i['name']} ON {tbl} ({cols})")
        if pg:
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('events', 'seq'), (SELECT max(seq) FROM events))")
        # the rollups written above hold every loaded event: the fold watermark says so (storage.fold)
        conn.exec_driver_sql("DELETE FROM event_fold")
        conn.exec_driver_sql("INSERT INTO event_fold (environment, last_seq, updated_at) "
                             "SELECT environment, MAX(seq), 0 FROM events GROUP BY environment")
    if pg:
        with store.write_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")  # what autovacuum would have done in production
    else:
        raw = store.write_engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    t_index = time.perf_counter() - t1
    with store.read() as conn:
        stored = conn.execute(text("SELECT count(*) FROM events")).scalar_one()
    store.close()
    total = time.perf_counter() - t_all
    stats = {"events": n_ev, "stored": stored, "rollup_rows": n_roll, "load_seconds": round(total, 2),
             "rows_seconds": round(t_rows, 2), "index_seconds": round(t_index, 2), "events_per_s": round(n_ev / total),
             "worker_cpu_generate_accumulate_s": round(cpu_gen, 1), "worker_cpu_write_s": round(cpu_write, 1),
             "processes": procs, "fast_rollups_checked_keys": checked_keys, "meter_ids": {k: m.id for k, m in meters.items()}}
    log(f"  loaded {n_ev:,} events + {n_roll:,} rollup rows in {total:.1f}s "
        f"(rows {t_rows:.1f}s, indexes {t_index:.1f}s, {n_ev / total:,.0f} events/s)")
    if stored != n_events:
        raise RuntimeError(f"bulk load stored {stored} events, expected {n_events}")
    return stats
