"""Demo dataset: customers with names and emails, the seeds' meters, products, subscriptions, invoices.

``meterbase demo`` (run by ``make run``) loads, in test mode:

* meters for API calls, AI tokens, images, storage (a ``last`` of bytes) and GPU seconds (seed 004's
  ``gpu_second`` credit: the events ``allow()`` records count on the same meter);
* usage from the first day of the month that began 45 days ago up to the current hour;
* three products: *Starter* (usage only), *Pro* (a hybrid: $49.00 a month plus per-call, package,
  and seed 004's graduated GPU tiers) and *Enterprise* (a fixed fee plus volume tiers, 20,000 "API credits"
  issued each month and images paid with them);
* five customers (names, emails) subscribed since that first day, so every past period is invoiced
  and finalized and the current one is the upcoming invoice (amount due so far);
* late usage: an hour of Acme's GPU time on the last day of last month arrives after that month was
  finalized, so a pending adjustment ("usage for … received after invoicing") waits for this month's
  invoice;
* seed 004's policy (``examples/policy.yaml``) when the checkout ships it and no policy is loaded; Hooli is on
  its pro plan and used 11 hr of GPU this period through ``allow()`` ($1.44 of overage on the upcoming invoice);
* credits (``credits.demo``): balances with cycles, debits into overage, wallets.

Deterministic (seeded RNG, fixed event ids) and idempotent: seeding twice changes nothing.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from .credits.demo import ensure_entitlement, seed_credits
from .errors import NotFound
from .periods import add_months
from .invoicing import Billing
from .storage import Store
from .timeutil import from_us, iso, to_us

ENV = "test_mode"
POLICY_FILE = Path(__file__).resolve().parents[2] / "examples" / "policy.yaml"
CUSTOMERS = ["cus_acme", "cus_globex", "cus_initech", "cus_umbrella", "cus_hooli"]
PEOPLE = {
    "cus_acme": ("Acme Corp", "billing@acme.example", "Pro", None, "pro"),
    "cus_globex": ("Globex Corporation", "ap@globex.example", "Starter", None, "free"),
    "cus_initech": ("Initech", "finance@initech.example", "Pro", 15, "pro"),
    "cus_umbrella": ("Umbrella Labs", "accounts@umbrella.example", "Enterprise", None, "enterprise"),
    "cus_hooli": ("Hooli", "invoices@hooli.example", "Starter", None, "pro"),
}  # id -> (name, email, product, anchor day, policy plan)
GPU_CUSTOMER = "cus_hooli"  # seed 004's example: 11 hr of GPU on pro, $1.44 of overage on this period's invoice
METERS = [
    {"name": "API Requests", "event_name": "api.call", "aggregation": {"type": "count"}, "measurement_unit": "calls"},
    {"name": "Token Usage", "event_name": "ai.tokens", "aggregation": {"type": "sum", "key": "tokens"}, "measurement_unit": "tokens"},
    {"name": "Images Generated", "event_name": "image.generated", "aggregation": {"type": "count"}, "measurement_unit": "images"},
    {"name": "Storage Used", "event_name": "storage.snapshot", "aggregation": {"type": "last", "key": "bytes"}, "measurement_unit": "bytes"},
    {"name": "Storage held", "event_name": "storage.snapshot", "measurement_unit": "byte-hours",
     "aggregation": {"type": "time_weighted", "key": "bytes", "mode": "gauge", "per": "hour"},
     "description": "Bytes held over time: each daily snapshot sets the level, integrated per hour"},
    {"name": "Premium successful calls", "event_name": "api.call", "aggregation": {"type": "count"}, "measurement_unit": "calls",
     "filter": {"conjunction": "and", "clauses": [{"key": "tier", "operator": "equals", "value": "premium"},
                                                   {"key": "status", "operator": "equals", "value": "success"}]}},
    {"name": "GPU Compute", "event_name": "gpu_second", "aggregation": {"type": "sum", "key": "amount"}, "measurement_unit": "s",
     "description": "Seconds of GPU time (seed 004's gpu_second credit; allow() records the same events)"},
]
GPU_TIERS = [{"up_to": 3600, "unit_price": "0.0004"}, {"up_to": 36000, "unit_price": "0.00035"},
             {"up_to": None, "unit_price": "0.0003"}]  # seed 004's gpu_second pricing


def products(meter: dict[str, str], credits: str) -> list[dict]:
    """The demo products (``meter``: meter name -> id; ``credits``: the "API credits" entitlement)."""
    return [
        {"name": "Starter", "currency": "USD", "fixed_fee": "0", "description": "Pay as you go",
         "meters": [{"meter_id": meter["API Requests"], "price_per_unit": "0.002", "free_threshold": 1000},
                    {"meter_id": meter["Images Generated"], "price_per_unit": "0.04"}]},
        {"name": "Pro", "currency": "USD", "fixed_fee": "49.00", "description": "Monthly fee plus usage, GPU tiers",
         "meters": [{"meter_id": meter["API Requests"], "price_per_unit": "0.001", "free_threshold": 5000},
                    {"meter_id": meter["Token Usage"],
                     "price": {"model": "package", "package_size": 100000, "package_price": "2.00"}},
                    {"meter_id": meter["GPU Compute"], "price": {"model": "graduated", "tiers": GPU_TIERS}},
                    {"meter_id": meter["Storage Used"],
                     "price": {"model": "package", "package_size": 1000000000, "package_price": "0.10"}}]},
        {"name": "Enterprise", "currency": "USD", "fixed_fee": "499.00",
         "description": "Committed fee, volume tiers, 20,000 API credits a month (images paid with them)",
         "meters": [{"meter_id": meter["Token Usage"], "price": {"model": "volume", "tiers": [
                        {"up_to": 1000000, "unit_price": "0.000015"}, {"up_to": None, "unit_price": "0.00001"}]}},
                    {"meter_id": meter["GPU Compute"], "price": {"model": "graduated", "tiers": GPU_TIERS}},
                    {"meter_id": meter["Images Generated"], "credit_entitlement_id": credits,
                     "meter_units_per_credit": "0.02"}],  # one image = 50 credits
         "credit_entitlements": [{"credit_entitlement_id": credits, "credits_amount": "20000"}]},
    ]


def billing_start(now_us: int) -> datetime:
    """00:00 UTC on the first day of the month that began 45 days before ``now_us``."""
    t = from_us(now_us) - timedelta(days=45)
    return t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _events(now_us: int, start: datetime, rng: random.Random):
    end = from_us(now_us).replace(minute=0, second=0, microsecond=0)
    for ci, cust in enumerate(CUSTOMERS):
        scale = 1 + ci
        gpu = PEOPLE[cust][2] != "Starter"
        t, i = start, 0
        while t < end:
            for _ in range(rng.randint(0, 3 * scale)):
                ts = t + timedelta(seconds=rng.randint(0, 3599))
                i += 1
                yield {"event_id": f"demo_{cust}_api_{i}", "customer_id": cust, "event_name": "api.call", "timestamp": iso(ts),
                       "metadata": {"endpoint": rng.choice(["/v1/users", "/v1/orders", "/v1/generate"]),
                                    "method": rng.choice(["GET", "POST"]), "tier": rng.choice(["free", "premium"]),
                                    "status": rng.choice(["success"] * 9 + ["error"])}}
            if rng.random() < 0.5:
                i += 1
                yield {"event_id": f"demo_{cust}_tok_{i}", "customer_id": cust, "event_name": "ai.tokens", "timestamp": iso(t),
                       "metadata": {"tokens": str(rng.randint(100, 4000)), "model": rng.choice(["gpt-4", "claude-3"])}}
            if rng.random() < 0.1:
                i += 1
                yield {"event_id": f"demo_{cust}_img_{i}", "customer_id": cust, "event_name": "image.generated",
                       "timestamp": iso(t), "metadata": {"size": "1024x1024", "model": "dall-e-3"}}
            if gpu and rng.random() < 0.08:
                i += 1
                yield {"event_id": f"demo_{cust}_gpu_{i}", "customer_id": cust, "event_name": "gpu_second",
                       "timestamp": iso(t), "metadata": {"amount": str(rng.randint(300, 3000)), "entitlement": "gpu_compute"}}
            if t.hour == 0:
                i += 1
                yield {"event_id": f"demo_{cust}_sto_{i}", "customer_id": cust, "event_name": "storage.snapshot",
                       "timestamp": iso(t), "metadata": {"bytes": str(scale * 1_000_000_000 + t.day * 10_000_000)}}
            t += timedelta(hours=1)


def _ingest(store: Store, events) -> int:
    batch, ingested = [], 0
    for ev in events:
        batch.append(ev)
        if len(batch) == 1000:
            ingested += store.ingest(ENV, batch).ingested
            batch = []
    if batch:
        ingested += store.ingest(ENV, batch).ingested
    return ingested


def _billing(store: Store, start: datetime) -> dict:
    """Products, customers and subscriptions (each once), then invoice and finalize every ended period."""
    b = Billing(store)
    meter = {m.spec.name: m.id for m in store.list_meters(ENV, None, limit=1000)}
    have = {p.plan.name: p.id for p in b.list_products(ENV, 1000)}
    for spec in products(meter, ensure_entitlement(store)):
        if spec["name"] not in have:
            have[spec["name"]] = b.create_product(ENV, spec).id
    subscribed = {s.customer_id for s in b.list_subscriptions(ENV, 1000)}
    for cid, (name, email, product, anchor_day, _) in PEOPLE.items():
        try:
            b.get_customer(ENV, cid)
        except NotFound:
            b.create_customer(ENV, {"id": cid, "name": name, "email": email})
        if cid not in subscribed:
            b.create_subscription(ENV, {"customer_id": cid, "product_id": have[product], "start": iso(start),
                                        **({"anchor_day": anchor_day} if anchor_day else {})})
    run = b.run(from_us(store.now()), ENV, finalize=True)
    late = _late_usage(store, b)
    return {"products": len(have), "invoices": len(run.created), "adjustments": late}


def _late_usage(store: Store, b: Billing) -> int:
    """GPU seconds of last month for Acme that "arrive" after last month was invoiced and finalized: the
    next run records them as an adjustment, pending until this month's invoice carries it."""
    now = from_us(store.now())
    last_day = now.replace(day=1, hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    store.ingest(ENV, [{"event_id": f"demo_cus_acme_late_gpu_{i}", "customer_id": "cus_acme", "event_name": "gpu_second",
                        "timestamp": iso(last_day + timedelta(minutes=i)),
                        "metadata": {"amount": "1800", "entitlement": "gpu_compute"}} for i in range(2)])
    return len(b.run(now, ENV, finalize=True).adjustments)


def _policy(store: Store) -> bool:
    """Seed 004's policy and each demo customer's plan, unless a policy is already loaded."""
    from .policy.service import PolicyService

    if not POLICY_FILE.is_file():
        return False
    svc = PolicyService(store, environment=ENV)
    if svc.policy_versions(1):
        return False
    svc.set_policy(POLICY_FILE.read_text(encoding="utf-8"))
    for cid, (*_, plan) in PEOPLE.items():
        if svc.get_customer(cid) is None:
            svc.set_plan(cid, plan, anchor=_gpu_anchor(store) if cid == GPU_CUSTOMER else None)
    _gpu_overage(svc)
    return True


def _gpu_anchor(store: Store) -> datetime:
    """30 days (seed 004's reset) before the end of the current billing month: the policy period running now ends
    inside it, so its overage is on this month's upcoming invoice (policy periods are billed where they end)."""
    month = from_us(store.now()).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return add_months(month, 1) - timedelta(days=30)


def _gpu_overage(svc) -> None:
    """Seed 004's GPU example for Hooli: 11 hr on the pro plan (10 hr included) -> 3,600 s of overage, $1.44."""
    svc.allow(GPU_CUSTOMER, "gpu_compute", "11hr", idempotency_key=f"demo-gpu-{GPU_CUSTOMER}")


def seed(store: Store, seed_value: int = 7) -> dict:
    """Create the demo meters, usage, billing and policy (each once; re-seeding adds nothing)."""
    existing = {m.spec.name for m in store.list_meters(ENV, None, limit=1000)}
    for spec in METERS:
        if spec["name"] not in existing:
            store.create_meter(ENV, spec)
    now = store.now()
    start = billing_start(now)
    # anchor the data on the hour so re-seeding within the hour reuses the same ids/timestamps
    ingested = _ingest(store, _events(now - now % 3_600_000_000, start, random.Random(seed_value)))
    billed = _billing(store, start)  # (creates the demo's credit entitlement first: Enterprise issues it)
    policy = _policy(store)
    seed_credits(store, CUSTOMERS)  # prepaid credits, wallets and metered deductions (meterbase.credits)
    return {"ingested": ingested, "meters": len(METERS), "customers": len(CUSTOMERS), "to": to_us(from_us(now)),
            "since": iso(start), "policy_loaded": policy, **billed}
