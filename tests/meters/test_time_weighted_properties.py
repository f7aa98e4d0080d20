"""``time_weighted`` usage equals a brute-force integral over random event histories, on every backend.

The reference samples the level minute by minute (events sit on a minute grid, so the level is constant
over each minute): gauge -- the value of the latest event at or before the minute; delta -- the sum of
all events at or before it; filtered-out events and non-numeric values change nothing. It shares no code
with ``meters.aggregations.time_weighted``. Events arrive in random order over several batches (the last
batch after the first queries: late events), and windows of every kind cross events.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from meterbase.exact import quotient
from meterbase.storage import open_store

SEC = 1_000_000
MIN = 60 * SEC
HOUR = 60 * MIN
BASE = int(datetime(2025, 3, 1, tzinfo=timezone.utc).timestamp()) * SEC  # midnight UTC
SPAN_MIN = 3 * 24 * 60  # events over three days
ENV = "test_mode"
PER_US = {"second": SEC, "minute": MIN, "hour": HOUR, "day": 24 * HOUR}
VALUES = ["0", "1", "2.5", "10", "-3", "0.125", 7, 1000000, "x"]  # "x": not a number (rejected)

event = st.tuples(st.sampled_from(["c1", "c2"]), st.integers(0, SPAN_MIN - 1), st.sampled_from(VALUES),
                  st.sampled_from(["us", "eu"]))


def reference(events, customer, start, end, mode, per, region=None, group=None):
    """Brute force: ∑ over minutes of [start, end) of level(minute) · 1 min, / per."""
    pts = sorted((m, v) for c, m, v, r in events
                 if c == customer and (region is None or r == region) and (group is None or r == group)
                 and v != "x")
    total, level, i = D(0), D(0), 0
    for minute in range(-1, SPAN_MIN + 3 * 24 * 60):
        while i < len(pts) and pts[i][0] <= minute:
            level = D(str(pts[i][1])) if mode == "gauge" else level + D(str(pts[i][1]))
            i += 1
        t = BASE + minute * MIN
        if start <= t < end:
            total += level * MIN
    return quotient(total, PER_US[per])


@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(events=st.lists(event, min_size=0, max_size=25, unique_by=lambda e: (e[0], e[1])),
       mode=st.sampled_from(["gauge", "delta"]), per=st.sampled_from(list(PER_US)),
       cut=st.integers(0, 25), win=st.tuples(st.integers(-600, SPAN_MIN + 600), st.integers(1, 2 * 24 * 60)),
       data=st.randoms(use_true_random=False))
def test_usage_equals_brute_force_integral(fresh_store_url, events, mode, per, cut, win, data):
    store = open_store(fresh_store_url())
    try:
        plain = store.create_meter(ENV, {"name": "held", "event_name": "disk", "aggregation": {
            "type": "time_weighted", "key": "v", "mode": mode, "per": per}})
        us_only = store.create_meter(ENV, {"name": "held us", "event_name": "disk", "aggregation": {
            "type": "time_weighted", "key": "v", "mode": mode, "per": per},
            "filter": {"conjunction": "and", "clauses": [{"key": "region", "operator": "equals", "value": "us"}]}})
        shuffled = list(events)
        data.shuffle(shuffled)
        raw = [{"event_id": f"e{c}{m}", "customer_id": c, "event_name": "disk",
                "timestamp": datetime.fromtimestamp((BASE + m * MIN) / SEC, timezone.utc).isoformat(),
                "metadata": {"v": v, "region": r}} for c, m, v, r in shuffled]
        early, late = raw[:cut], raw[cut:]
        for i in range(0, len(early), 7):
            store.ingest(ENV, early[i:i + 7])
        store.usage(ENV, plain.id, BASE, BASE + 24 * HOUR, "hour")  # a query before the late events
        if late:
            store.ingest(ENV, late)
        start = BASE + win[0] * MIN + 17 * SEC  # windows cross events, off the minute grid too
        end = start + win[1] * MIN
        for meter, region in ((plain, None), (us_only, "us")):
            for cust in ("c1", "c2"):
                got = store.meter_total(ENV, meter.id, cust, start, end).value("time_weighted")
                # off-grid edges: the reference's minutes are [t, t+1min); shift its bounds by the 17 s
                want = _reference_exact(events, cust, start, end, mode, per, region)
                assert got == want, (meter.spec.name, cust, got, want)
        # day windows over the whole span, all customers at once, and grouped by region
        u = store.usage(ENV, plain.id, BASE - 24 * HOUR, BASE + 4 * 24 * HOUR, "day")
        for s in u.series:
            for (ws, we), p in zip(u.bounds, s.windows):
                assert p.value("time_weighted") == reference(events, s.customer_id, ws, we, mode, per)
        g = store.usage(ENV, plain.id, BASE, BASE + 3 * 24 * HOUR, "day", customer_id="c1", group_by=["region"])
        for s in g.series:
            if s.group is None:  # c1 has no events at all: one empty series, zero per window
                assert not [e for e in events if e[0] == "c1"]
                assert all(p.value("time_weighted") == 0 for p in s.windows)
                continue
            for (ws, we), p in zip(g.bounds, s.windows):
                assert p.value("time_weighted") == reference(events, "c1", ws, we, mode, per, group=s.group["region"])
    finally:
        store.close()


def _reference_exact(events, customer, start, end, mode, per, region):
    """Brute force for edges off the minute grid: whole minutes inside, plus the partial minutes at the edges
    (the level over a partial minute is the level of the minute it belongs to)."""
    pts = sorted((m, v) for c, m, v, r in events if c == customer and (region is None or r == region) and v != "x")
    total, level, i = D(0), D(0), 0
    for minute in range(-700, SPAN_MIN + 3 * 24 * 60):
        while i < len(pts) and pts[i][0] <= minute:
            level = D(str(pts[i][1])) if mode == "gauge" else level + D(str(pts[i][1]))
            i += 1
        lo, hi = BASE + minute * MIN, BASE + (minute + 1) * MIN
        overlap = min(hi, end) - max(lo, start)
        if overlap > 0:
            total += level * overlap
    return quotient(total, PER_US[per])
