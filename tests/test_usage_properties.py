"""Store.usage must equal an independent brute-force aggregation of the same events.

The reference below is deliberately written from the documented semantics, without calling the
production aggregation, filter or window code:

* metadata values come from a small vocabulary whose numeric meaning and canonical text are
  spelled out by hand in ``VOCAB``;
* filters are evaluated by ``ref_match``; windows are rebuilt from wall-clock datetimes by
  ``ref_bounds``; aggregations are plain Python over Decimals in ``ref_aggregate``.

Every example uses a fresh SQLite store, creates meters for EVERY aggregation before ingest
(rollups at ingest), between batches and after ingest (backfill), ingests several batches,
replays one batch with some conflicting copies, then compares many usage queries.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Context, Decimal as D, localcontext
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from meterbase.errors import ValidationError
from meterbase.storage import open_store

UTC = timezone.utc
SEC = 1_000_000
MIN = 60 * SEC
HOUR = 60 * MIN
DAY = 24 * HOUR
AGGREGATIONS = ("count", "sum", "max", "min", "avg", "last", "unique_count")
ENV = "test_mode"
EVENT = "api_call"

# 2024-10-31 12:00Z + 4 days: the data spans the month boundary (Nov 1, UTC and local) and the
# whole of New York's 25-hour day (2024-11-03 04:00Z .. 2024-11-04 05:00Z).
BASE = int(datetime(2024, 10, 31, 12, tzinfo=UTC).timestamp()) * SEC
DATA_SPAN = 4 * DAY

# (value, numeric meaning or None, canonical text). Written out by hand on purpose.
VOCAB = [
    (0, D(0), "0"),
    (2, D(2), "2"),
    (3, D(3), "3"),
    (-4, D(-4), "-4"),
    (7, D(7), "7"),
    (17, D(17), "17"),
    (100, D(100), "100"),
    (9223372036854775807, D(9223372036854775807), "9223372036854775807"),
    ("2", D(2), "2"),
    ("2.0", D(2), "2.0"),
    ("3", D(3), "3"),
    ("3.00", D(3), "3.00"),
    ("0.1", D("0.1"), "0.1"),
    ("0.10", D("0.1"), "0.10"),
    ("2.50", D("2.5"), "2.50"),
    ("-1.25", D("-1.25"), "-1.25"),
    (" 7 ", D(7), " 7 "),
    ("+7", D(7), "+7"),
    ("1e2", D(100), "1e2"),
    (0.5, D("0.5"), "0.5"),
    (0.1, D("0.1"), "0.1"),
    (2.0, D(2), "2"),
    (2.5, D("2.5"), "2.5"),
    ("abc", None, "abc"),
    ("", None, ""),
    ("1,5", None, "1,5"),
    ("NaN", None, "NaN"),
    ("premium", None, "premium"),
    ("basic", None, "basic"),
    (True, None, "true"),
    (False, None, "false"),
    ("true", None, "true"),
    ("True", None, "True"),
]
_TABLE = {(type(v), v): (n, t) for v, n, t in VOCAB}
ALL_VALUES = [v for v, _, _ in VOCAB]
# Per-key vocabularies: small and full of numeric/textual look-alikes so that filters match often
# and equal-but-differently-spelled values (2 / 2.0 / "2" / "2.0", True / "true") meet.
KEY_VALUES = {
    "k": ALL_VALUES,
    "tier": ["premium", "basic", True, "true", "True", False, 2, 2.0, "2", "2.0", "0.1", 0.1, "0.10"],
    "n": [0, 3, "3", "3.00", 7, " 7 ", "+7", "1e2", 100, 2.5, "2.50", "-1.25", "abc"],
}
NUMERIC_VALUES = [v for v, n, _ in VOCAB if n is not None and abs(n) < 1000]
KEYS = tuple(KEY_VALUES)
CUSTOMERS = ("c1", "c2", "c3")
NEEDLES = ("a", "1", "2", ".", "tr", "prem", "0", "7", "e")
TZS = ("UTC", "America/New_York", "Asia/Kolkata")
#: (aggregation, metadata key) of the meters created in every example: every aggregation over
#: "k", plus a few over the look-alike keys.
METERS = [(agg, "k") for agg in AGGREGATIONS] + [("unique_count", "tier"), ("sum", "n"), ("last", "n"), ("unique_count", "n")]


def num(v):
    return _TABLE[(type(v), v)][0]


def text(v):
    return _TABLE[(type(v), v)][1]


# ---------------------------------------------------------------------------------------------
# Reference implementation
# ---------------------------------------------------------------------------------------------
def ref_equal(a, b) -> bool:
    na, nb = num(a), num(b)
    if na is not None and nb is not None:
        return na == nb
    return text(a) == text(b)


def ref_match(f, meta) -> bool:
    if f is None:
        return True
    if "clauses" in f:
        results = [ref_match(c, meta) for c in f["clauses"]]
        return all(results) if f.get("conjunction", "and") == "and" else any(results)
    key, op, target = f["key"], f["operator"], f.get("value")
    if op == "exists":
        return (key in meta) == (True if target is None else target)
    if key not in meta:
        return op in ("not_equals", "does_not_contain", "not_in")
    v = meta[key]
    if op == "equals":
        return ref_equal(v, target)
    if op == "not_equals":
        return not ref_equal(v, target)
    if op == "in":
        return any(ref_equal(v, t) for t in target)
    if op == "not_in":
        return not any(ref_equal(v, t) for t in target)
    if op == "contains":
        return target in text(v)
    if op == "does_not_contain":
        return target not in text(v)
    nv, nt = num(v), num(target)
    if nv is None:
        return False
    return {
        "greater_than": nv > nt,
        "greater_than_or_equals": nv >= nt,
        "less_than": nv < nt,
        "less_than_or_equals": nv <= nt,
    }[op]


def ref_bounds(start: int, end: int, size: str, tz: str) -> list[tuple[int, int]]:
    """Windows rebuilt from wall-clock construction (independent of meterbase.meters.windows)."""
    zi = ZoneInfo(tz)
    inner: list[int] = []
    if size in ("minute", "hour"):
        step = MIN if size == "minute" else HOUR
        # offsets of these zones are whole hours except Kolkata (+05:30)
        off = 30 * MIN if (size == "hour" and tz == "Asia/Kolkata") else 0
        t = ((start - off) // step + 1) * step + off
        while t < end:
            inner.append(t)
            t += step
    else:
        d0 = datetime.fromtimestamp(start // SEC, zi).date()
        d = date(d0.year, d0.month, 1) if size == "month" else d0
        while True:
            if size == "day":
                d = d + timedelta(days=1)
            else:
                d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
            b = int(datetime(d.year, d.month, d.day, tzinfo=zi).timestamp()) * SEC
            if b >= end:
                break
            if b > start:
                inner.append(b)
    edges = [start, *inner, end]
    return list(zip(edges, edges[1:]))


def ref_aggregate(agg: str, key: str, rows: list[tuple[int, int, dict]]) -> dict:
    """rows: matched (ts, ingest_order, metadata). Returns value / events / rejected."""
    out = {"events": len(rows), "rejected": 0}
    if agg == "count":
        out["value"] = D(len(rows))
        return out
    if agg == "unique_count":
        present = [m[key] for _, _, m in rows if key in m]
        out["rejected"] = len(rows) - len(present)
        out["value"] = D(len({text(v) for v in present}))
        return out
    nums = [(ts, order, num(m[key])) for ts, order, m in rows if key in m and num(m[key]) is not None]
    out["rejected"] = len(rows) - len(nums)
    values = [n for _, _, n in nums]
    total = D(0)
    for n in values:
        total += n
    if agg == "sum":
        out["value"] = total
    elif not values:
        out["value"] = None
    elif agg == "max":
        out["value"] = max(values)
    elif agg == "min":
        out["value"] = min(values)
    elif agg == "avg":  # the documented rule: the exact quotient, half-up to 30 decimal places
        out["value"] = ref_avg(total, len(values))
    elif agg == "last":
        out["value"] = max(nums, key=lambda r: (r[0], r[1]))[2]
    return out


def ref_avg(total: D, n: int) -> D:
    """Half-up to 30 places, computed another way than production (a 200-digit quotient, quantized)."""
    with localcontext(Context(prec=200)):
        return (total / n).quantize(D(1).scaleb(-30), rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------
def group(children):
    return st.fixed_dictionaries(
        {"conjunction": st.sampled_from(["and", "or"]), "clauses": st.lists(children, min_size=1, max_size=3)}
    )


def _leaf(key):
    vals = st.sampled_from(KEY_VALUES[key])

    def clause(op, value):
        return {"key": key, "operator": op, "value": value}

    return st.one_of(
        st.builds(clause, st.sampled_from(["equals", "not_equals"]), st.one_of(vals, st.sampled_from(ALL_VALUES))),
        st.builds(
            clause,
            st.sampled_from(["greater_than", "greater_than_or_equals", "less_than", "less_than_or_equals"]),
            st.sampled_from(NUMERIC_VALUES),
        ),
        st.builds(clause, st.sampled_from(["contains", "does_not_contain"]), st.sampled_from(NEEDLES)),
        st.builds(clause, st.sampled_from(["in", "not_in"]), st.lists(vals, min_size=1, max_size=3)),
        st.builds(clause, st.just("exists"), st.booleans()),
    )


leaf_st = st.sampled_from(KEYS).flatmap(_leaf)
_tree_st = group(st.recursive(leaf_st, group, max_leaves=4))
filter_st = st.one_of(st.none(), _tree_st, _tree_st)

offset_st = st.one_of(
    st.integers(0, DATA_SPAN - 1),
    st.builds(
        lambda h, o: h * HOUR + o,
        st.integers(0, DATA_SPAN // HOUR - 1),
        st.sampled_from([0, 0, 1, 30 * MIN, HOUR - 1, 59 * MIN + 59 * SEC]),
    ),
)
_opt = {"tier": st.sampled_from(KEY_VALUES["tier"]), "n": st.sampled_from(KEY_VALUES["n"])}
_k = st.sampled_from(KEY_VALUES["k"])
meta_st = st.one_of(
    # usually carries the aggregation key "k"; sometimes not (missing key => rejected)
    st.fixed_dictionaries({"k": _k}, optional=_opt),
    st.fixed_dictionaries({"k": _k}, optional=_opt),
    st.fixed_dictionaries({}, optional={"k": _k, **_opt}),
)
event_st = st.tuples(
    st.sampled_from(CUSTOMERS),
    st.sampled_from([EVENT, EVENT, EVENT, "other"]),
    offset_st,
    meta_st,
)

instant_st = st.one_of(
    st.integers(-6 * HOUR, DATA_SPAN + 12 * HOUR),
    # on, or a hair off, UTC hour boundaries: where raw edges meet hour rollups
    st.builds(lambda h, d: h * HOUR + d, st.integers(-1, 4 * 24 + 12), st.sampled_from([0, 0, 1, -1, 30 * MIN])),
    st.integers(-1, 5).map(lambda d: d * DAY - 12 * HOUR),  # UTC midnights
    st.integers(-1, 5).map(lambda d: d * DAY - 8 * HOUR),  # New York midnight (EDT)
    st.integers(-1, 5).map(lambda d: d * DAY - 7 * HOUR),  # New York midnight (EST)
)


@st.composite
def query_st(draw, offsets):
    size = draw(st.sampled_from(["minute", "hour", "hour", "day", "day", "month"]))
    # range ends often sit exactly on (or next to) an event's timestamp
    inst = st.one_of(instant_st, st.builds(lambda o, d: o + d, st.sampled_from(offsets), st.sampled_from([0, 0, 1, -1])))
    a = draw(inst)
    b = draw(inst)
    if a == b:
        b = a + 1
    a, b = min(a, b), max(a, b)
    if size == "minute" and b - a > 8 * HOUR:
        b = a + (b - a) % (8 * HOUR) + 1
    tz = draw(st.sampled_from(TZS))
    customer = draw(st.sampled_from([None, None, *CUSTOMERS, "nobody"]))
    return BASE + a, BASE + b, size, tz, customer


@st.composite
def scenario_st(draw):
    events = draw(st.lists(event_st, min_size=6, max_size=40))
    n = len(events)
    cuts = sorted(set(draw(st.lists(st.integers(0, n), max_size=3))))
    edges = [0, *cuts, n]
    batches = [list(range(s, e)) for s, e in zip(edges, edges[1:]) if e > s] or [[]]
    replay = draw(st.integers(0, len(batches) - 1))
    conflicts = sorted(set(draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=2)))) if n else []
    mid_after = draw(st.integers(0, len(batches) - 1))
    flt = draw(filter_st)
    queries = draw(st.lists(query_st([e[2] for e in events]), min_size=3, max_size=5))
    return events, batches, replay, conflicts, mid_after, flt, queries


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
# SQLite here runs with synchronous=FULL: put the per-example databases on tmpfs when there is one


def iso(us_: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us_)).isoformat().replace("+00:00", "Z")


def raw_event(i, ev):
    cust, name, off, meta = ev
    return {"event_id": f"ev{i}", "customer_id": cust, "event_name": name, "timestamp": iso(BASE + off), "metadata": meta}


def meter_body(agg, flt, tag, key="k"):
    body = {"name": f"{agg}-{key}-{tag}", "event_name": EVENT, "aggregation": {"type": agg, "key": None if agg == "count" else key}}
    if flt is not None:
        body["filter"] = flt
    return body


def expected_usage(agg, key, flt, stored, start, end, size, tz, customer, group_by=None):
    """{(customer, group): [per-window ref dicts]} plus the reference bounds."""
    bounds = ref_bounds(start, end, size, tz)
    starts = [s for s, _ in bounds]
    per: dict = {}
    for order, (cust, name, ts, meta) in enumerate(stored):
        if name != EVENT or not (start <= ts < end) or (customer is not None and cust != customer):
            continue
        if not ref_match(flt, meta):
            continue
        g = tuple(text(meta[k]) if k in meta else None for k in group_by) if group_by else None
        w = bisect_right(starts, ts) - 1
        per.setdefault((cust, g), [[] for _ in bounds])[w].append((ts, order, meta))
    if customer is not None and not per:
        per[(customer, None)] = [[] for _ in bounds]
    return bounds, {ck: [ref_aggregate(agg, key, rows) for rows in wins] for ck, wins in per.items()}, per


def assert_same(agg, got_partial, exp, where):
    value = got_partial.value(agg)
    assert (value is None) == (exp["value"] is None), (where, value, exp)
    if value is not None:
        assert value == exp["value"], (where, value, exp)
    assert got_partial.events == exp["events"], (where, got_partial, exp)
    assert got_partial.rejected == exp["rejected"], (where, got_partial, exp)


def check_query(store, meter, agg, key, flt, stored, q, group_by=None):
    start, end, size, tz, customer = q
    res = store.usage(ENV, meter.id, start, end, size, tz, customer, group_by)
    bounds, exp, rows = expected_usage(agg, key, flt, stored, start, end, size, tz, customer, group_by)
    assert res.bounds == bounds, (q, res.bounds[:3], bounds[:3])
    got = {
        (s.customer_id, tuple(s.group[k] for k in group_by) if s.group is not None else None): s for s in res.series
    }
    assert set(got) == set(exp), (agg, q, sorted(got, key=str), sorted(exp, key=str))
    for ck, exp_windows in exp.items():
        series = got[ck]
        assert len(series.windows) == len(bounds)
        for i, (p, e) in enumerate(zip(series.windows, exp_windows)):
            assert_same(agg, p, e, (agg, q, ck, i, bounds[i]))
        # the series total (merge across windows) equals the aggregate over the whole range
        all_rows = [r for w in rows[ck] for r in w] if ck in rows else []
        assert_same(agg, series.total(), ref_aggregate(agg, key, all_rows), (agg, q, ck, "total"))


# ---------------------------------------------------------------------------------------------
# The property
# ---------------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(scenario=scenario_st())
def test_usage_equals_reference_for_every_aggregation(fresh_store_url, scenario):
    events, batches, replay, conflicts, mid_after, flt, queries = scenario
    raws = [raw_event(i, ev) for i, ev in enumerate(events)]
    store = open_store(fresh_store_url())
    try:
        meters = {}
        for agg, key in METERS:
            meters[(agg, key, "before")] = store.create_meter(ENV, meter_body(agg, flt, "before", key))
        stored = []  # (customer, name, ts, metadata) in ingestion order
        for bi, batch in enumerate(batches):
            res = store.ingest(ENV, [raws[i] for i in batch])
            assert res.ingested == len(batch)
            assert res.duplicates == [] and res.conflicts == []
            stored.extend((events[i][0], events[i][1], BASE + events[i][2], events[i][3]) for i in batch)
            if bi == mid_after:
                for agg, key in METERS:
                    meters[(agg, key, "mid")] = store.create_meter(ENV, meter_body(agg, flt, "mid", key))
        # replay one batch (with conflicting copies of some events): nothing may change
        conflicting = [{**raws[i], "metadata": {"k": 999}} for i in conflicts]
        res = store.ingest(ENV, [raws[i] for i in batches[replay]] + conflicting)
        assert res.ingested == 0
        assert set(res.duplicates) == {f"ev{i}" for i in batches[replay]}
        assert set(res.conflicts) == {f"ev{i}" for i in conflicts}
        assert store.count_events(ENV) == len(events)
        for agg, key in METERS:
            meters[(agg, key, "after")] = store.create_meter(ENV, meter_body(agg, flt, "after", key))

        assert len(meters) == 3 * len(METERS)
        for (agg, key, _when), meter in meters.items():
            for q in queries:
                check_query(store, meter, agg, key, flt, stored, q)
    finally:
        store.close()


@settings(max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(scenario=scenario_st(), group_key=st.sampled_from([["tier"], ["k"], ["tier", "n"]]))
def test_grouped_usage_equals_reference(fresh_store_url, scenario, group_key):
    events, batches, _replay, _conflicts, _mid, flt, queries = scenario
    raws = [raw_event(i, ev) for i, ev in enumerate(events)]
    store = open_store(fresh_store_url())
    try:
        meters = {(agg, key): store.create_meter(ENV, meter_body(agg, flt, "g", key)) for agg, key in METERS}
        stored = []
        for batch in batches:
            store.ingest(ENV, [raws[i] for i in batch])
            stored.extend((events[i][0], events[i][1], BASE + events[i][2], events[i][3]) for i in batch)
        for (agg, key), meter in meters.items():
            for q in queries:
                check_query(store, meter, agg, key, flt, stored, q, group_by=group_key)
    finally:
        store.close()


@settings(max_examples=200, deadline=None, database=None)
@given(flt=_tree_st, metas=st.lists(meta_st, min_size=1, max_size=10))
def test_production_filter_agrees_with_reference(flt, metas):
    """The same generated filters, checked without storage (cheap, so many more examples)."""
    from meterbase.meters.filters import compile_filter, parse_filter

    predicate = compile_filter(parse_filter(flt))
    for meta in metas:
        assert predicate(meta) is ref_match(flt, meta), (flt, meta)


# ---------------------------------------------------------------------------------------------
# Deterministic checks of the same contract (readable failures)
# ---------------------------------------------------------------------------------------------
def _ingest(store, metas, start=BASE, step=10 * MIN, customer="c1", prefix="x"):
    raws = [
        {"event_id": f"{prefix}{i}", "customer_id": customer, "event_name": EVENT, "timestamp": iso(start + i * step), "metadata": m}
        for i, m in enumerate(metas)
    ]
    return store.ingest(ENV, raws)


@pytest.mark.parametrize("when", ["before", "after"])
def test_non_numeric_values_are_rejected_not_crashed(store, when):
    metas = [{"k": 5}, {"k": "abc"}, {"k": True}, {"k": "2.5"}, {}, {"k": ""}, {"k": "0.1"}, {"k": False}]
    ms = {}
    if when == "before":
        ms = {a: store.create_meter(ENV, meter_body(a, None, when)) for a in AGGREGATIONS}
    _ingest(store, metas)
    if when == "after":
        ms = {a: store.create_meter(ENV, meter_body(a, None, when)) for a in AGGREGATIONS}
    expected = {
        "count": (D(8), 0),
        "sum": (D("7.6"), 5),
        "max": (D(5), 5),
        "min": (D("0.1"), 5),
        "avg": (D("2.533333333333333333333333333333"), 5),  # 7.6 / 3, half-up to 30 places
        "last": (D("0.1"), 5),
        # distinct texts: "5", "abc", "true", "2.5", "", "0.1", "false"; only {} is missing
        "unique_count": (D(7), 1),
    }
    for agg, (value, rejected) in expected.items():
        for start, end in [(BASE, BASE + DAY), (BASE - 7 * MIN, BASE + 2 * HOUR + 3 * MIN)]:  # rollups; raw edges
            res = store.usage(ENV, ms[agg].id, start, end, "day")
            (series,) = res.series
            total = series.total()
            assert total.value(agg) == value, (agg, start)
            assert total.events == 8 and total.rejected == rejected, (agg, total)


def test_all_values_rejected_gives_none_for_value_aggregations(store):
    ms = {a: store.create_meter(ENV, meter_body(a, None, "r")) for a in AGGREGATIONS}
    _ingest(store, [{"k": "abc"}, {"k": True}, {"tier": 1}])
    for agg in ("max", "min", "avg", "last"):
        (s,) = store.usage(ENV, ms[agg].id, BASE, BASE + DAY, "day").series
        assert s.total().value(agg) is None
        assert s.total().rejected == 3
    (s,) = store.usage(ENV, ms["sum"].id, BASE, BASE + DAY, "day").series
    assert s.total().value("sum") == 0
    (s,) = store.usage(ENV, ms["count"].id, BASE, BASE + DAY, "day").series
    assert s.total().value("count") == 3


def test_unknown_customer_gets_an_empty_series(store):
    m = store.create_meter(ENV, meter_body("sum", None, "e"))
    _ingest(store, [{"k": 1}])
    res = store.usage(ENV, m.id, BASE, BASE + 2 * DAY, "day", customer_id="nobody")
    assert [s.customer_id for s in res.series] == ["nobody"]
    assert [p.value("sum") for p in res.series[0].windows] == [0, 0, 0]  # BASE is 12:00Z: 3 UTC days
    assert store.usage(ENV, m.id, BASE - DAY, BASE, "day").series == []


def test_replayed_batch_is_not_double_counted(store):
    m = store.create_meter(ENV, meter_body("sum", None, "rp"))
    first = _ingest(store, [{"k": 1}, {"k": "2"}, {"k": "0.5"}])
    again = _ingest(store, [{"k": 1}, {"k": "2"}, {"k": "0.5"}])
    changed = _ingest(store, [{"k": 100}])  # same id x0, different content: conflict, ignored
    assert first.ingested == 3
    assert again.ingested == 0 and sorted(again.duplicates) == ["x0", "x1", "x2"]
    assert changed.ingested == 0 and changed.conflicts == ["x0"]
    late = store.create_meter(ENV, meter_body("sum", None, "late"))
    for meter in (m, late):
        for start, end in [(BASE, BASE + DAY), (BASE - 5 * MIN, BASE + 3 * HOUR + 1)]:
            (s,) = store.usage(ENV, meter.id, start, end, "hour").series
            assert s.total().value("sum") == D("3.5")
            assert s.total().events == 3


def test_last_breaks_timestamp_ties_by_ingestion_order(store):
    m = store.create_meter(ENV, meter_body("last", None, "t"))
    ts = iso(BASE + 30 * MIN)
    store.ingest(ENV, [{"event_id": "a", "customer_id": "c", "event_name": EVENT, "timestamp": ts, "metadata": {"k": 1}}])
    store.ingest(ENV, [{"event_id": "b", "customer_id": "c", "event_name": EVENT, "timestamp": ts, "metadata": {"k": 2}}])
    store.ingest(ENV, [{"event_id": "c", "customer_id": "c", "event_name": EVENT, "timestamp": iso(BASE + 10 * MIN), "metadata": {"k": 3}}])
    late = store.create_meter(ENV, meter_body("last", None, "t2"))
    for meter in (m, late):
        for start, end in [(BASE, BASE + DAY), (BASE + 1, BASE + 59 * MIN)]:
            (s,) = store.usage(ENV, meter.id, start, end, "day").series
            assert s.total().value("last") == 2


def test_ny_day_usage_across_fall_back(store):
    """Events in the 25th hour of 2024-11-03 (New York) belong to that local day."""
    m = store.create_meter(ENV, meter_body("count", None, "ny"))
    nov3_local_start = int(datetime(2024, 11, 3, 4, tzinfo=UTC).timestamp()) * SEC
    nov4_local_start = nov3_local_start + 25 * HOUR
    times = [nov3_local_start, nov3_local_start + 24 * HOUR + 30 * MIN, nov4_local_start, nov4_local_start - 1]
    store.ingest(ENV, [
        {"event_id": f"n{i}", "customer_id": "c", "event_name": EVENT, "timestamp": iso(t)} for i, t in enumerate(times)
    ])
    res = store.usage(ENV, m.id, nov3_local_start, nov4_local_start + DAY, "day", "America/New_York")
    assert res.bounds == [(nov3_local_start, nov4_local_start), (nov4_local_start, nov4_local_start + DAY)]
    (s,) = res.series
    assert [p.value("count") for p in s.windows] == [3, 1]


def test_usage_rejects_bad_query(store):
    m = store.create_meter(ENV, meter_body("count", None, "q"))
    with pytest.raises(ValidationError) as exc:
        store.usage(ENV, m.id, BASE, BASE + 30 * DAY, "minute")
    assert exc.value.field == "window"
    with pytest.raises(ValidationError) as exc:
        store.usage(ENV, m.id, BASE, BASE, "day")
    assert exc.value.field == "to"
    with pytest.raises(ValidationError) as exc:
        store.usage(ENV, m.id, BASE, BASE + DAY, "day", group_by=["a", "b", "c", "d", "e", "f"])
    assert exc.value.field == "group_by"


# ---------------------------------------------------------------------------------------------
# Regressions: bugs these tests found (fixed)
# ---------------------------------------------------------------------------------------------
def test_huge_exponent_numeric_string_does_not_crash_ingest(store):
    m = store.create_meter(ENV, meter_body("sum", None, "ovf"))
    res = _ingest(store, [{"k": "1e9999999"}, {"k": 1}])
    assert res.ingested == 2
    (s,) = store.usage(ENV, m.id, BASE, BASE + DAY, "day").series
    total = s.total()
    assert (total.value("sum"), total.rejected) == (D(1), 1)  # out-of-range quantity: rejected, not summed


def test_sum_is_exact_for_large_plus_small_values(store):
    m = store.create_meter(ENV, meter_body("sum", None, "prec"))
    _ingest(store, [{"k": 9223372036854775807}, {"k": "0.0000000001"}])
    (s,) = store.usage(ENV, m.id, BASE, BASE + DAY, "day").series
    assert s.total().value("sum") == D("9223372036854775807.0000000001")


def test_rollup_and_raw_paths_agree_on_cancelling_large_values(store):
    m = store.create_meter(ENV, meter_body("sum", None, "cancel"))
    day0 = BASE - 12 * HOUR  # a UTC midnight
    store.ingest(ENV, [
        {"event_id": "p", "customer_id": "c", "event_name": EVENT, "timestamp": iso(day0 + 10 * MIN), "metadata": {"k": "1e20"}},
        {"event_id": "q", "customer_id": "c", "event_name": EVENT, "timestamp": iso(day0 + 70 * MIN), "metadata": {"k": "-1e20"}},
        {"event_id": "r", "customer_id": "c", "event_name": EVENT, "timestamp": iso(day0 + 80 * MIN), "metadata": {"k": "0.000000001"}},
    ])
    (whole,) = store.usage(ENV, m.id, day0, day0 + 2 * HOUR, "day").series  # hour rollups
    (inner,) = store.usage(ENV, m.id, day0 + 5 * MIN, day0 + 110 * MIN, "day").series  # raw scan
    assert inner.total().value("sum") == D("0.000000001")
    assert whole.total().value("sum") == D("0.000000001")


# ---------------------------------------------------------------------------------------------
# Batched per-customer windows (the invoice run's reader) agree with the reference too
# ---------------------------------------------------------------------------------------------
_window_st = st.tuples(st.sampled_from([*CUSTOMERS, "nobody"]), instant_st, instant_st)


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(events=st.lists(event_st, min_size=6, max_size=40), flt=filter_st,
       windows=st.lists(_window_st, min_size=1, max_size=12), chunk=st.sampled_from([1, 2, 500]))
def test_meter_totals_many_equals_reference(fresh_store_url, events, flt, windows, chunk, monkeypatch):
    """Every customer with its own window (sub-hour edges, whole hours and days, empty and reversed
    ranges, unknown customers), split over one or several statements, equals the reference."""
    from meterbase.storage import usage_batch

    monkeypatch.setattr(usage_batch, "CHUNK", chunk)
    store = open_store(fresh_store_url())
    try:
        meters = {(agg, key): store.create_meter(ENV, meter_body(agg, flt, "b", key)) for agg, key in METERS}
        res = store.ingest(ENV, [raw_event(i, ev) for i, ev in enumerate(events)])
        assert res.ingested == len(events)
        stored = [(c, name, BASE + off, meta) for c, name, off, meta in events]
        wins = [(cust, BASE + a, BASE + b) for cust, a, b in windows]
        with store.read() as conn:
            for (agg, key), meter in meters.items():
                got = usage_batch.meter_totals_many(conn, meter, wins)
                assert len(got) == len(wins)
                for (cust, start, end), partial in zip(wins, got):
                    rows = [(ts, order, meta) for order, (c, name, ts, meta) in enumerate(stored)
                            if c == cust and name == EVENT and start <= ts < end and ref_match(flt, meta)]
                    assert_same(agg, partial, ref_aggregate(agg, key, rows), (agg, key, cust, start - BASE, end - BASE))
    finally:
        store.close()
