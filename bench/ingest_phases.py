"""Where one ingest batch's time goes, in-process, phase by phase: ``python -m bench.ingest_phases``.

Feeds the ingest benchmark's own batches (1000 events, 6 meters) straight to ``validate_batch`` +
``Store.ingest_events`` (no HTTP, one thread, one durable transaction per batch) and reports per batch:
validation, events insert, the rest of the transaction (commit included), and on SQLite the bytes the
batch appended to the write-ahead log (checkpoints off while measuring). The same bodies first go
through the storage floor (``bench.floor``) in the same run: the ratio meterbase/floor is the figure
issue 15 asks for. Then the folder catches up (``Store.fold``, off the ack path): its time per batch
is reported apart, split into rollup folding, building the rollup rows and the rollup writes, with the time
the fold held the write lock (SQLite: every ingest waits for it, so it caps HTTP ingest throughput). WAL bytes do not depend on machine load,
so they show the write amplification behind the ingest figures: every event lands at a random
position of several B-tree indexes, and each touched 4 KiB page is written whole.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from contextlib import contextmanager

import orjson
from sqlalchemy import event as sa_event

from . import floor
from .common import ENV, fresh_database, temp_dir
from .data import METERS, HttpBodyFactory

PHASES = ("parse + validate", "events insert", "rest of transaction (commit)")
FOLD_PHASES = ("rollup fold", "rollup rows", "rollup write", "rest of fold")
#: Time inside the fold's write transactions (begin to commit), part of the phases above.
HELD = "fold write-lock held"


def _timed(module, name: str, phase: str, acc: Counter) -> None:
    fn = getattr(module, name)

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            acc[phase] += time.perf_counter() - t0

    setattr(module, name, wrapper)


def _wal_bytes(store, factory, batches: int) -> float:
    """WAL bytes one event appends (SQLite): a few more bodies with checkpoints off, after the timed run."""
    from meterbase.events.validate import validate_batch

    wal = store.write_engine.url.database + "-wal"
    store.write_engine.dispose()
    sa_event.listen(store.write_engine, "connect", lambda dbapi, _rec: dbapi.execute("PRAGMA wal_autocheckpoint=0"))
    raw = store.write_engine.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    start = os.path.getsize(wal)
    n = 0
    for _ in range(batches):
        events = validate_batch(orjson.loads(factory.body()[0])["events"], store.now())
        store.ingest_events(ENV, events)
        n += len(events)
    return (os.path.getsize(wal) - start) / n


def measure(backend: str = "sqlite", batches: int = 50, meters: bool = True) -> dict:
    from meterbase.events.validate import validate_batch
    from meterbase.storage import events_repo, open_store, rollups

    acc: Counter = Counter()
    _timed(events_repo, "insert_events", "events insert", acc)
    _timed(rollups, "accumulate", "rollup fold", acc)
    _timed(rollups, "rows", "rollup rows", acc)
    _timed(rollups, "write_rows", "rollup write", acc)
    factory = HttpBodyFactory("phase", seed=11)
    bodies = [factory.body()[0] for _ in range(batches)]
    with temp_dir() as tmp, fresh_database(backend, tmp) as url:
        base = floor.open_floor(backend, tmp, url)
        store = open_store(url, migrate_schema=True)
        try:
            for spec in METERS if meters else ():
                store.create_meter(ENV, spec)
            total = floor_s = 0.0
            for body in bodies:  # floor and meterbase take turns body by body: the same machine load for both
                t0 = time.perf_counter()
                base.write(body)
                floor_s += time.perf_counter() - t0
                t0 = time.perf_counter()
                events = validate_batch(orjson.loads(body)["events"], store.now())  # parsed here, as the floor parses
                t1 = time.perf_counter()
                store.ingest_events(ENV, events)
                acc["parse + validate"] += t1 - t0
                total += time.perf_counter() - t1
            acc["rest of transaction (commit)"] = total - acc["events insert"]
            eps = batches * 1000 / (acc["parse + validate"] + total)
            floor_eps = batches * 1000 / floor_s
            wal_bytes = _wal_bytes(store, factory, 5) if backend == "sqlite" else None
            real_write = store.write

            @contextmanager
            def held_write():
                t = time.perf_counter()
                with real_write() as conn:
                    yield conn
                acc[HELD] += time.perf_counter() - t  # commit included

            store.write = held_write  # the folder's write transactions (SQLite: the write lock held)
            t0 = time.perf_counter()
            try:
                store.fold()
            finally:
                del store.write
            acc["rest of fold"] = time.perf_counter() - t0 - sum(acc[p] for p in FOLD_PHASES[:-1])
            out = {"backend": backend, "batches": batches, "ms per batch": {p: 1e3 * acc[p] / batches for p in PHASES},
                   "fold ms per batch": {p: 1e3 * acc[p] / (batches + (5 if wal_bytes is not None else 0))
                                         for p in FOLD_PHASES + (HELD,)},
                   "floor events/s": floor_eps, "meterbase events/s": eps, "ratio": eps / floor_eps}
            if wal_bytes is not None:
                out["WAL bytes per event"] = wal_bytes
            return out
        finally:
            base.close()
            store.close()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.ingest_phases", description=__doc__.split("\n")[0])
    p.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    p.add_argument("--batches", type=int, default=50)
    p.add_argument("--no-meters", action="store_true", help="events only (no rollups)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = p.parse_args(argv)
    r = measure(a.backend, a.batches, not a.no_meters)
    if a.json:
        print(orjson.dumps(r).decode())
        return
    print(f"{r['backend']}: {r['batches']} batches of 1000 events, {'no meters' if a.no_meters else f'{len(METERS)} meters'}")
    for phase, ms in r["ms per batch"].items():
        print(f"  {phase:<30} {ms:7.1f} ms")
    print(f"  {'total':<30} {sum(r['ms per batch'].values()):7.1f} ms per 1000 events")
    print("  folder, off the ack path:")
    for phase, ms in r["fold ms per batch"].items():
        if phase == HELD and r["backend"] == "sqlite":
            print(f"    {'of which the write lock held':<28} {ms:7.1f} ms  (every ingest waits for it)")
        elif phase == HELD:
            print(f"    {'of which in the fold lock':<28} {ms:7.1f} ms  (usage reads wait for it)")
        else:
            print(f"    {phase:<28} {ms:7.1f} ms")
    print(f"  floor {r['floor events/s']:,.0f} events/s, meterbase {r['meterbase events/s']:,.0f} events/s: "
          f"ratio {r['ratio']:.2f}")
    if "WAL bytes per event" in r:
        print(f"  WAL written per event: {r['WAL bytes per event']:,.0f} bytes")


if __name__ == "__main__":
    main()
