"""1. Ingest throughput: a live ``meterbase serve --workers N`` and load-generator processes.

Each backend's rows start with the storage floor (``bench.floor``: a minimal table, one durable
transaction per 1000-event body) and meterbase in-process (``validate_batch`` + ``Store.ingest_events``,
6 meters) over the same bodies in the same run (``bench.ingest_phases``); every row's ``ratio`` is its
events/s over that floor. Issue 15's goals: in-process >= 0.5, HTTP >= 0.3 of the floor.

Each client process pre-serializes its request bodies (orjson fragments, ~1% replayed ids) before the
clock starts, then sends batches of 1000 back-to-back for ``duration`` seconds. Afterwards the stored
event count must equal the unique ids sent *exactly*, every replay must come back as a duplicate,
and the unfiltered meters' day rollups must count exactly the stored events.
Paths: ``http`` (httpx, pre-serialized bytes) and ``sdk`` (``meterbase.sdk.Meterbase.ingest``).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .common import ENV, RESULTS_DIR, Section, cores, fresh_database, median, percentile, pg_available, start_server, temp_dir
from .data import METERS, HttpBodyFactory

TARGET_EPS = 100_000


@dataclass
class IngestConfig:
    backends: tuple[str, ...] = ("sqlite", "postgresql")
    paths: tuple[str, ...] = ("http", "sdk")
    duration: float = 30.0
    workers: int = 0  # 0: one uvicorn worker per core
    clients: int = 4
    batch: int = 1000
    dup_rate: float = 0.01
    max_rate: float = 60_000  # bodies pre-built for this rate; beyond it they are built on the fly
    warmup_batches: int = 2
    floor_batches: int = 60  # 1000-event bodies through the floor and in-process meterbase
    profile: bool = False
    profile_seconds: float = 20.0


# -- load generator (runs in child processes) -------------------------------------------------
def _client(idx: int, url: str, key: str, path: str, cfg: IngestConfig, ready, go, start_at, out) -> None:
    import httpx

    from meterbase.sdk import Meterbase

    fac = HttpBodyFactory(prefix=f"c{idx}-{os.getpid()}", seed=1000 + idx, batch=cfg.batch, dup_rate=cfg.dup_rate)
    n_pre = int(cfg.duration * cfg.max_rate / cfg.batch / cfg.clients) + 2
    def make():
        u, rp = fac.unique, fac.replayed
        payload, n = fac.body() if path == "http" else (fac.event_dicts(), cfg.batch)
        return payload, n, fac.unique - u, fac.replayed - rp
    pre = [make() for _ in range(n_pre + cfg.warmup_batches)]
    http = httpx.Client(base_url=url, timeout=300, headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    sdk = Meterbase(api_key=key, base_url=url, timeout=300, max_retries=5)
    totals = Counter()
    errors: list[str] = []

    def send(payload):
        for attempt in range(6):  # idempotent: a retried batch is reported as duplicates, never stored twice
            try:
                if path == "http":
                    r = http.post("/v1/events/ingest", content=payload)
                    if r.status_code == 200:
                        return r.json()
                    errors.append(f"{r.status_code}: {r.text[:200]}")
                else:
                    return sdk.ingest(payload)
            except Exception as exc:  # noqa: BLE001 - reported, then retried
                errors.append(repr(exc)[:200])
            time.sleep(0.2 * (attempt + 1))
        raise RuntimeError(f"batch failed after retries: {errors[-1]}")

    def account(res):
        totals["ingested"] += res["ingested_count"]
        totals["duplicates"] += res["duplicate_count"]
        totals["conflicts"] += res["conflict_count"]

    sent_unique = sent_replayed = 0
    for _ in range(cfg.warmup_batches):
        payload, n, u, rp = pre.pop(0)
        account(send(payload))
        totals["warmup_events"] += n
        sent_unique += u
        sent_replayed += rp
    ready.put(idx)
    go.wait()
    t_start = start_at.value
    deadline = t_start + cfg.duration
    lat: list[float] = []
    ends: list[float] = []
    built_late = 0
    while True:
        if pre:
            payload, n, u, rp = pre.pop(0)
        else:
            payload, n, u, rp = make()
            built_late += 1
        t0 = time.monotonic()
        if t0 >= deadline:
            break
        res = send(payload)
        sent_unique += u
        sent_replayed += rp
        t1 = time.monotonic()
        account(res)
        totals["timed_ingested"] += res["ingested_count"]
        lat.append(t1 - t0)
        ends.append(t1)
        totals["events"] += n
        totals["requests"] += 1
    out.put({"idx": idx, "lat": lat, "last_end": max(ends) if ends else t_start, "totals": dict(totals),
             "unique_sent": sent_unique, "replayed_sent": sent_replayed, "errors": errors[:20], "n_errors": len(errors),
             "built_late": built_late})


# -- orchestration ----------------------------------------------------------------------------
def _setup(url: str) -> str:
    from meterbase.storage import open_store

    store = open_store(url)
    try:
        key, _ = store.create_key("bench", ENV)
        for spec in METERS:
            store.create_meter(ENV, spec)
        return key
    finally:
        store.close()


def _verify(url: str, expected_unique: int) -> dict:
    from sqlalchemy import func, select

    from meterbase.storage import Store
    from meterbase.storage.schema import events as e, meter_rollups as r, meters as m

    store = Store(url)
    try:
        folded = store.fold()  # the server's folder may be behind when it stopped: the rollups catch up here
        with store.read() as conn:
            stored = conn.execute(select(func.count()).select_from(e).where(e.c.environment == ENV)).scalar_one()
            by_name = dict(conn.execute(select(e.c.event_name, func.count()).where(e.c.environment == ENV).group_by(e.c.event_name)).all())
            rolled = dict(conn.execute(
                select(m.c.event_name, func.sum(r.c.events)).select_from(r.join(m, m.c.id == r.c.meter_id))
                .where(r.c.grain == 1, m.c.filter.is_(None), m.c.environment == ENV).group_by(m.c.event_name)
            ).all())
    finally:
        store.close()
    rollups_ok = all(int(rolled.get(name, 0)) == n for name, n in by_name.items())
    return {"stored": stored, "expected": expected_unique, "count_exact": stored == expected_unique, "folded_after_run": folded,
            "by_name": by_name, "rollup_events": {k: int(v) for k, v in rolled.items()}, "rollups_exact": rollups_ok}


def _fold_lag(url: str) -> int:
    """Events stored but not yet folded into rollups, read while the server still runs."""
    from meterbase.storage import Store

    store = Store(url)
    try:
        return store.fold_lag(ENV, cap=2**62)["unfolded"]  # the count every surface shows (eventstore.status)
    finally:
        store.close()


def _profile(server, seconds: float, out: Path) -> subprocess.Popen | None:
    spy = str(Path(sys.executable).with_name("py-spy")) if Path(sys.executable).with_name("py-spy").exists() else shutil.which("py-spy") or ""
    if not spy:
        return None
    return subprocess.Popen(
        [spy, "record", "--pid", str(server.proc.pid), "--subprocesses", "--format", "raw", "--rate", "200",
         "--duration", str(int(seconds)), "--nonblocking", "-o", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def run_one(backend: str, path: str, cfg: IngestConfig, tmp: Path, log=print) -> dict:
    workers = cfg.workers or cores()
    with fresh_database(backend, tmp) as url:
        key = _setup(url)
        server = start_server(url, tmp / f"server-{backend}-{path}.log", workers=workers)
        ctx = mp.get_context("fork")
        ready, out = ctx.Queue(), ctx.Queue()
        go = ctx.Event()
        start_at = ctx.Value("d", 0.0)
        procs = [ctx.Process(target=_client, args=(i, server.url, key, path, cfg, ready, go, start_at, out), daemon=True)
                 for i in range(cfg.clients)]
        spy = None
        try:
            for p in procs:
                p.start()
            for _ in procs:
                ready.get(timeout=600)
            start_at.value = time.monotonic()
            go.set()
            if cfg.profile:
                time.sleep(min(3.0, cfg.duration / 4))
                prof_out = RESULTS_DIR / f"profile-ingest-{backend}-{path}.txt"
                prof_out.parent.mkdir(parents=True, exist_ok=True)
                spy = _profile(server, min(cfg.profile_seconds, cfg.duration * 0.7), prof_out)
            results = [out.get(timeout=cfg.duration + 900) for _ in procs]
            for p in procs:
                p.join(30)
            if spy is not None:
                spy.wait(120)
            lag = _fold_lag(url)  # the server's folder keeps up, or this shows how far behind it is
        finally:
            for p in procs:
                if p.is_alive():
                    p.kill()
            server.stop()
        t0 = start_at.value
        wall = max(r["last_end"] for r in results) - t0
        lat = [x for r in results for x in r["lat"]]
        tot = Counter()
        for r in results:
            tot.update(r["totals"])
        unique = sum(r["unique_sent"] for r in results)
        replayed = sum(r["replayed_sent"] for r in results)
        ver = _verify(url, unique)
        ok = (ver["count_exact"] and ver["rollups_exact"] and tot["ingested"] == ver["stored"]
              and tot["duplicates"] == replayed and tot["conflicts"] == 0)
        row = {
            "backend": backend, "path": path, "workers": workers, "clients": cfg.clients,
            "events/s": tot["events"] / wall if wall > 0 else float("nan"),
            "stored/s": tot["timed_ingested"] / wall if wall > 0 else float("nan"),
            "p50 ms": percentile(lat, 50) * 1e3, "p99 ms": percentile(lat, 99) * 1e3,
            "requests": tot["requests"], "seconds": wall, "stored": ver["stored"], "unfolded": lag,
            "verified": "exact" if ok else "MISMATCH", "target": f">= {TARGET_EPS:,}/s" if backend == "sqlite" else "report",
        }
        row["meets"] = ("yes" if row["events/s"] >= TARGET_EPS else "no") if backend == "sqlite" else "-"
        detail = {**row, "sent_unique": unique, "sent_replays": replayed, "totals": dict(tot), "verify": ver,
                  "latency_ms": {"p50": row["p50 ms"], "p90": percentile(lat, 90) * 1e3, "p99": row["p99 ms"],
                                 "max": max(lat) * 1e3 if lat else None, "median": median(lat) * 1e3},
                  "errors": sum(r["n_errors"] for r in results), "error_samples": [e for r in results for e in r["errors"]][:5],
                  "bodies_built_during_run": sum(r["built_late"] for r in results)}
        log(f"  ingest {backend}/{path}: {row['events/s']:,.0f} events/s, p50 {row['p50 ms']:.1f} ms, "
            f"p99 {row['p99 ms']:.1f} ms, stored {ver['stored']:,} ({row['verified']}), unfolded at the end {lag:,}")
        return detail


COLUMNS = ["backend", "path", "workers", "clients", "events/s", "ratio", "target", "meets", "p50 ms", "p99 ms", "requests",
           "seconds", "stored", "unfolded", "verified"]
#: Issue 15: meterbase's share of the storage floor, in-process and over HTTP (load generator on the same machine).
RATIO_GOAL = {"in-process": 0.5, "http": 0.3, "sdk": 0.3}


def _floor_rows(backend: str, batches: int, log) -> tuple[float, list[dict]]:
    """The floor and in-process meterbase over the same bodies, in this run."""
    from .ingest_phases import measure

    r = measure(backend, batches)
    floor_eps = r["floor events/s"]
    log(f"  floor {backend}: {floor_eps:,.0f} events/s; meterbase in-process {r['meterbase events/s']:,.0f} events/s "
        f"(ratio {r['ratio']:.2f})")
    rows = [{"backend": backend, "path": "floor", "events/s": floor_eps, "ratio": 1.0, "verified": "-"},
            {"backend": backend, "path": "in-process", "events/s": r["meterbase events/s"], "ratio": r["ratio"],
             "target": f">= {RATIO_GOAL['in-process']} of floor", "meets": "yes" if r["ratio"] >= RATIO_GOAL["in-process"] else "no",
             "verified": "-"}]
    return floor_eps, rows


def run(cfg: IngestConfig, log=print) -> Section:
    sec = Section("ingest", f"1. HTTP ingest (batches of {cfg.batch}, ~{cfg.dup_rate:.0%} replayed ids, {cfg.duration:.0f} s each)",
                  COLUMNS)
    have_pg = pg_available()
    runs = []
    with temp_dir() as tmp:
        for backend in cfg.backends:
            floor_eps = None
            if backend == "sqlite" or have_pg:
                try:
                    floor_eps, rows = _floor_rows(backend, cfg.floor_batches, log)
                    sec.rows.extend(rows)
                except Exception as exc:  # noqa: BLE001 - reported, the HTTP runs still go
                    sec.rows.append({"backend": backend, "path": "floor", "verified": f"error: {exc!r}"[:120]})
                    sec.status = "error"
            for path in cfg.paths:
                if backend == "postgresql" and not have_pg:
                    sec.rows.append({"backend": backend, "path": path, "verified": "no PostgreSQL reachable", "target": "report"})
                    continue
                try:
                    d = run_one(backend, path, cfg, tmp, log)
                except Exception as exc:  # noqa: BLE001 - one failed configuration must not hide the others
                    sec.rows.append({"backend": backend, "path": path, "verified": f"error: {exc!r}"[:120]})
                    sec.status = "error"
                    continue
                if floor_eps:
                    d["ratio"] = d["events/s"] / floor_eps
                    d["target"] = f">= {RATIO_GOAL[path]} of floor"
                    d["meets"] = "yes" if d["ratio"] >= RATIO_GOAL[path] else "no"
                runs.append(d)
                sec.rows.append({c: d.get(c) for c in COLUMNS})
    sec.details["runs"] = runs
    sec.notes.append("events/s counts every event sent in the timed window (incl. ~1% replays); 'stored' is the exact row count "
                     "after the run and equals unique ids sent; day rollups of unfiltered meters equal stored counts per name.")
    sec.notes.append("unfolded: events stored but not yet in the rollups when the clients stopped (the server's folder "
                     "process folds every second; usage reads stay exact meanwhile by reading that tail raw).")
    sec.notes.append("the load generator shares the machine's cores with the server.")
    sec.notes.append("ratio: events/s over the storage floor measured in this run with the same kind of 1000-event bodies "
                     "(floor: minimal table + one (customer, name, ts) index, one durable transaction per body; see bench/floor.py).")
    if any(d["verified"] != "exact" for d in runs):
        sec.status = "error"
    return sec
