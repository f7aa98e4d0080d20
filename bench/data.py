"""Realistic synthetic usage events, shared by the ingest and query benchmarks.

- 10,000 customers with a skewed (quadratic) distribution: ``cus_00000`` is the heaviest (~1% of all
  events), the long tail sends a few events each — like real SaaS traffic.
- 5 event names with realistic metadata where numbers arrive as strings (``"tokens": "1532"``).
- 6 meters on them: counts, exact sums of string numbers, a filtered sum and a max.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import orjson

N_CUSTOMERS = 10_000

#: (event name, weight) — api calls dominate, GPU and storage are rarer.
EVENT_NAMES = [("api.request", 40), ("llm.tokens", 25), ("gpu.seconds", 10), ("storage.bytes", 10), ("email.sent", 15)]

METERS = [
    {"name": "API requests", "event_name": "api.request", "measurement_unit": "requests", "aggregation": {"type": "count"}},
    {"name": "LLM tokens", "event_name": "llm.tokens", "measurement_unit": "tokens",
     "aggregation": {"type": "sum", "key": "tokens"}},
    {"name": "GPT-4o tokens", "event_name": "llm.tokens", "measurement_unit": "tokens",
     "aggregation": {"type": "sum", "key": "tokens"},
     "filter": {"conjunction": "and", "clauses": [{"key": "model", "operator": "equals", "value": "gpt-4o"}]}},
    {"name": "GPU seconds", "event_name": "gpu.seconds", "measurement_unit": "s", "aggregation": {"type": "sum", "key": "seconds"}},
    {"name": "Peak storage", "event_name": "storage.bytes", "measurement_unit": "bytes", "aggregation": {"type": "max", "key": "bytes"}},
    {"name": "Emails", "event_name": "email.sent", "measurement_unit": "emails", "aggregation": {"type": "count"}},
]
#: The meter the query benchmark times (exact decimal sum of a string-number property).
QUERY_METER = "LLM tokens"

_MODELS = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "llama-3-70b"]
_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1"]
_ENDPOINTS = ["/v1/chat", "/v1/embeddings", "/v1/search", "/v1/files", "/v1/images"]


def customer_id(i: int) -> str:
    return f"cus_{i:05d}"


def pick_customer(rng: random.Random, n: int = N_CUSTOMERS) -> str:
    u = rng.random()
    return customer_id(int(n * u * u))


def metadata(rng: random.Random, name: str) -> dict:
    region = rng.choice(_REGIONS)
    if name == "api.request":
        return {"endpoint": rng.choice(_ENDPOINTS), "method": rng.choice(["GET", "POST"]),
                "status": rng.choice(["200", "200", "200", "201", "429", "500"]),
                "latency_ms": f"{rng.lognormvariate(3, 0.8):.1f}", "region": region}
    if name == "llm.tokens":
        inp = rng.randint(10, 6000)
        out = rng.randint(1, 2000)
        return {"tokens": str(inp + out), "input_tokens": str(inp), "output_tokens": str(out),
                "model": rng.choice(_MODELS), "region": region, "stream": rng.random() < 0.5}
    if name == "gpu.seconds":
        return {"seconds": f"{rng.uniform(0.05, 900):.3f}", "gpu": rng.choice(["a100", "h100", "l4"]),
                "job_id": f"job_{rng.getrandbits(40):010x}", "region": region}
    if name == "storage.bytes":
        return {"bytes": str(rng.randint(1_000, 50_000_000_000)), "bucket": f"bkt-{rng.randint(1, 40)}", "region": region}
    return {"template": rng.choice(["welcome", "reset", "invoice", "digest"]), "recipients": str(rng.randint(1, 50)),
            "region": region}


class MetadataPool:
    """A fixed pool of metadata dicts (and their JSON) per event name: generation stays cheap at 10M events."""

    def __init__(self, seed: int, per_name: int = 4096):
        rng = random.Random(seed)
        self.names = [n for n, _ in EVENT_NAMES]
        self.weights = [w for _, w in EVENT_NAMES]
        self.dicts = {n: [metadata(rng, n) for _ in range(per_name)] for n in self.names}
        self.json = {n: [orjson.dumps(m).decode() for m in ms] for n, ms in self.dicts.items()}
        self.per_name = per_name


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class HttpBodyFactory:
    """Builds pre-serialized ingest bodies (bytes) of ``batch`` events from pre-serialized fragments.

    Event ids are unique per factory (``prefix``); ``dup_rate`` of each batch replays ids (same content)
    of the previous batch, which the server must report as duplicates and never store twice.
    """

    def __init__(self, prefix: str, seed: int, batch: int = 1000, dup_rate: float = 0.01, n_fragments: int = 20_000,
                 now: datetime | None = None, spread: timedelta = timedelta(hours=6)):
        rng = random.Random(seed)
        now = now or datetime.now(timezone.utc)
        names = [n for n, _ in EVENT_NAMES]
        weights = [w for _, w in EVENT_NAMES]
        self.frags: list[bytes] = []
        self.events: list[dict] = []  # the same fragments as dicts (SDK path)
        for _ in range(n_fragments):
            name = rng.choices(names, weights)[0]
            ev = {"customer_id": pick_customer(rng), "event_name": name,
                  "timestamp": iso(now - timedelta(seconds=rng.uniform(0, spread.total_seconds()))),
                  "metadata": metadata(rng, name)}
            self.events.append(ev)
            self.frags.append(orjson.dumps(ev)[1:])  # '"customer_id":...}' (without the opening brace)
        self.rng = rng
        self.prefix = prefix
        self.batch = batch
        self.n_dups = max(0, round(batch * dup_rate)) if dup_rate else 0
        self.seq = 0
        self.prev: list[tuple[str, int]] = []  # (event id, fragment index) of the previous batch
        self.unique = 0
        self.replayed = 0

    def _ids(self) -> list[tuple[str, int]]:
        new = self.batch - (self.n_dups if self.prev else 0)
        items = []
        nf = len(self.frags)
        for _ in range(new):
            self.seq += 1
            items.append((f"{self.prefix}-{self.seq:09d}", self.seq * 7919 % nf))
        self.unique += new
        if self.prev and self.n_dups:
            items.extend(self.rng.sample(self.prev, self.n_dups))
            self.replayed += self.n_dups
        self.prev = items[:new]
        return items

    def body(self) -> tuple[bytes, int]:
        items = self._ids()
        frags = self.frags
        parts = [b'{"event_id":"' + eid.encode() + b'",' + frags[fi] for eid, fi in items]
        return b'{"events":[' + b",".join(parts) + b"]}", len(items)

    def event_dicts(self) -> list[dict]:
        evs = self.events
        return [{"event_id": eid, **evs[fi]} for eid, fi in self._ids()]
