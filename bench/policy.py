"""3. Policy decisions: ``PolicyService.check`` / ``allow`` in-process and over HTTP, 1/4/16 concurrent clients;
and ``allow()`` against one credit balance (:mod:`bench.credits`).

Imports ``meterbase.policy.service`` lazily: while it is missing the section prints "not available yet".
Everything that depends on the service's exact API lives in the small ``_adapter_*`` functions below.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import threading
import time
from dataclasses import dataclass

from .common import (ENV, NOT_AVAILABLE, Section, cores, fresh_database, median, percentile, run_threads, start_server,
                     temp_dir)
from .credits import deduction_rows

TARGET_INPROC_US = 20.0
TARGET_HTTP_P99_MS = 2.0

POLICY_YAML = """\
policy:
  credits:
    gpu_second:
      description: GPU compute time in seconds
      pricing_model: tiered
      tiers:
        - up_to: 3600
          price: { amount: 0.0004 }
        - price: { amount: 0.0003 }
      stof_units: s
      resets: true
  plans:
    free:
      label: Free
      period: monthly
      default: true
      entitlements:
        gpu_access:
          description: GPU compute access
    pro:
      label: Pro
      period: monthly
      entitlements:
        gpu_access:
          description: GPU compute access
        gpu_compute:
          description: GPU compute, soft limit 10 GPU-hours/month
          limit: { credit: gpu_second, mode: soft, value: '10hr', resets: true, reset_inc: 30days }
"""
ENTITLEMENT = "gpu_compute"
PLAN = "pro"


@dataclass
class PolicyConfig:
    customers: int = 1_000
    inproc_calls: int = 2_000
    http_calls: int = 200  # per client
    concurrency: tuple[int, ...] = (1, 4, 16)
    workers: int = 0


def available() -> bool:
    try:
        importlib.import_module("meterbase.policy.service")
    except ImportError:
        return False
    return True


# -- adapters: the only code that knows the service's API ------------------------------------
def _adapter_service(store):
    from meterbase.policy import load_policy
    from meterbase.policy.service import PolicyService

    return PolicyService(store, load_policy(POLICY_YAML), environment=ENV)


def _adapter_setup(svc, customers: list[str]) -> None:
    for c in customers:
        svc.ensure_customer(c, PLAN)


def _adapter_call(svc, op: str, customer: str):
    return svc.check(customer, ENTITLEMENT, "1") if op == "check" else svc.allow(customer, ENTITLEMENT, "1")


def _adapter_http_setup(http) -> None:
    r = http.put("/v1/policy", content=POLICY_YAML.encode(), headers={"Content-Type": "application/yaml"})
    r.raise_for_status()


def _adapter_http_request(op: str, customer: str) -> tuple[str, dict]:
    return f"/v1/policy/{op}", {"customer_id": customer, "entitlement": ENTITLEMENT, "amount": "1"}


# -- in-process ---------------------------------------------------------------------------------
def _inproc(svc, op: str, customers: list[str], calls: int, threads: int) -> dict:
    lat: list[float] = []
    lock = threading.Lock()
    per = max(1, calls // threads)

    def worker(t: int) -> None:
        mine = []
        pc = time.perf_counter_ns
        for i in range(per):
            c = customers[(t * 7919 + i) % len(customers)]
            t0 = pc()
            _adapter_call(svc, op, c)
            mine.append(pc() - t0)
        with lock:
            lat.extend(mine)

    wall = run_threads(worker, threads)
    us = [x / 1e3 for x in lat]
    return {"median_us": median(us), "p99_us": percentile(us, 99), "ops_s": len(us) / wall, "n": len(us)}


# -- HTTP -------------------------------------------------------------------------------------
def _http_client(url, key, op, customers, calls, idx, ready, go, out) -> None:
    import httpx
    import orjson

    http = httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    bodies = []
    for i in range(calls):
        path, body = _adapter_http_request(op, customers[(idx * 7919 + i) % len(customers)])
        bodies.append((path, orjson.dumps(body)))
    for path, body in bodies[:5]:  # warm the connection
        http.post(path, content=body)
    ready.put(idx)
    go.wait()

    def timed_pass() -> tuple[list[float], int, float]:
        lat, errors = [], 0
        t_start = time.monotonic()
        for path, body in bodies:
            t0 = time.perf_counter()
            r = http.post(path, content=body)
            lat.append(time.perf_counter() - t0)
            errors += r.status_code != 200
        return lat, errors, time.monotonic() - t_start

    first = None
    if op == "check":  # the first check of each customer reads the database; later ones hit the cache
        first = timed_pass()
        timed_pass()  # a second pass: the other worker process has its own cache
    lat, errors, wall = timed_pass()
    out.put({"lat": lat, "errors": errors, "wall": wall, "first": first})


def _http(url, key, op, customers, calls, clients) -> dict:
    ctx = mp.get_context("fork")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_http_client, args=(url, key, op, customers, calls, i, ready, go, out), daemon=True)
             for i in range(clients)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    go.set()
    res = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(10)
    return _summary([(r["lat"], r["errors"], r["wall"]) for r in res]), (
        _summary([r["first"] for r in res]) if res[0]["first"] is not None else None)


def _summary(passes: list[tuple[list[float], int, float]]) -> dict:
    lat = [x * 1e3 for lats, _, _ in passes for x in lats]
    wall = max(w for _, _, w in passes)
    return {"median_ms": median(lat), "p99_ms": percentile(lat, 99), "ops_s": len(lat) / wall,
            "errors": sum(e for _, e, _ in passes), "n": len(lat)}


COLUMNS = ["mode", "op", "clients", "median", "p99", "unit", "ops/s", "target", "meets"]


def run(cfg: PolicyConfig, log=print) -> Section:
    sec = Section("policy", "3. Policy check/allow latency", COLUMNS)
    if not available():
        sec.status = "not_available"
        sec.rows = [{"mode": m, "op": "check/allow", "target": t, "meets": NOT_AVAILABLE}
                    for m, t in (("in-process", f"median <= {TARGET_INPROC_US:.0f} us"), ("http", f"p99 <= {TARGET_HTTP_P99_MS:.0f} ms"))]
        sec.notes.append("meterbase.policy.service is not importable yet")
        return sec
    from meterbase.storage import open_store

    customers = [f"cus_pol_{i:05d}" for i in range(cfg.customers)]
    with temp_dir() as tmp, fresh_database("sqlite", tmp) as url:
        store = open_store(url)
        try:
            svc = _adapter_service(store)
            _adapter_setup(svc, customers)
            for op in ("check", "allow"):
                _inproc(svc, op, customers, 200, 1)  # warm-up
                for threads in cfg.concurrency:
                    r = _inproc(svc, op, customers, cfg.inproc_calls, threads)
                    sec.rows.append({"mode": "in-process", "op": op, "clients": threads, "median": r["median_us"],
                                     "p99": r["p99_us"], "unit": "us", "ops/s": r["ops_s"],
                                     "target": f"median <= {TARGET_INPROC_US:.0f} us",
                                     "meets": "yes" if r["median_us"] <= TARGET_INPROC_US else "no"})
                    log(f"  policy in-process {op} x{threads}: median {r['median_us']:.1f} us, p99 {r['p99_us']:.1f} us")
            key, _ = store.create_key("bench-policy", ENV)
        finally:
            store.close()
        with fresh_database("sqlite", tmp) as credits_url:  # allow() against one credit balance
            rows, notes = deduction_rows(credits_url, cfg.inproc_calls // 2, cfg.concurrency, log)
            sec.rows += rows
            sec.notes += notes
        import httpx

        server = start_server(url, tmp / "server-policy.log", workers=cfg.workers or cores())
        try:
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
                _adapter_http_setup(http)
            for op in ("check", "allow"):
                for clients in cfg.concurrency:
                    warm, first = _http(server.url, key, op, customers, cfg.http_calls, clients)
                    for label, r in ((f"{op} (first read)", first), (op, warm)):
                        if r is None:
                            continue
                        sec.rows.append({"mode": "http", "op": label, "clients": clients, "median": r["median_ms"],
                                         "p99": r["p99_ms"], "unit": "ms", "ops/s": r["ops_s"],
                                         "target": f"p99 <= {TARGET_HTTP_P99_MS:.0f} ms",
                                         "meets": "yes" if r["p99_ms"] <= TARGET_HTTP_P99_MS and not r["errors"] else "no"})
                        if r["errors"]:
                            sec.notes.append(f"http {label} x{clients}: {r['errors']} non-200 answers")
                        log(f"  policy http {label} x{clients}: median {r['median_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, {r['ops_s']:,.0f}/s")
        finally:
            server.stop()
    sec.notes.append("in-process: PolicyService on SQLite (threads share the GIL); http: client processes on the same cores. "
                     "http check: each client checks its customers three times; 'first read' is the first pass (each "
                     "customer's first check after the server started reads the database), 'check' the third (a second "
                     "pass warms the other worker's cache). allow always runs its transaction (commit + fsync).")
    return sec
