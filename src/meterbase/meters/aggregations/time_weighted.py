"""``time_weighted``: the integral of a level over time, per unit of time (GB-hours, seat-days).

``{"type": "time_weighted", "key": "bytes", "mode": "gauge" | "delta", "per": "hour"}``

* ``gauge``: each event *sets* the level to its value; ``delta``: each event *adds* its value (+/-).
* The value of a window ``[start, end)`` is ``∫ level dt / per``: 10 GB held for 24 h is 240 GB-hours.
* The level carries across windows, days and periods: a window opens at the last level known before
  it (gauge: the latest earlier event; delta: the sum of every earlier event), so one event on the 1st
  bills the whole month. Before the first event the level is 0.
* **Open windows**: the level is integrated up to the window's end, never up to "now": the value of a
  window still open is what it will be if no further event arrives (10 GB stored on the 1st reads as the
  whole month's GB-hours on the 2nd). Every answer is then a function of the events alone -- the same
  query gives the same number whenever it is asked, invoices and usage agree, and a later event changes
  it exactly as it would have had it arrived on time.
* Events are placed by timestamp (ties by ingest sequence), so out-of-order and late events give what the
  full event history gives. Filters apply: an event the filter rejects neither sets nor changes the level;
  an event whose property is missing or not a number is counted as rejected and changes nothing.
* Exact: times are integer microseconds and the integral is an exact ``Decimal`` (value·µs); the one
  division, by ``per`` in microseconds, is exact whenever it terminates within 30 decimal places and is
  otherwise rounded half-up to 30 places (``exact.quotient``, the same rule as ``avg``).

No rollup rows: usage reads the customer's raw events of the meter's event name (the events before the
window for the opening level, then those inside it) in ``storage/usage_time_weighted.py``. This file,
plus that read and its tests, is all it took to add this member to the registry.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable

from ...exact import EXACT, quotient
from .base import Aggregation, Param, numeric_fold

MODES = ("gauge", "delta")
#: ``per`` units, in microseconds.
PER_US = {"second": 1_000_000, "minute": 60_000_000, "hour": 3_600_000_000, "day": 86_400_000_000}
ZERO = Decimal(0)
ONE = Decimal(1)

Point = tuple[int, int, Decimal]  # (ts_us, seq, value) of a matching event with a numeric value


def next_level(level: Decimal, value: Decimal, mode: str) -> Decimal:
    return value if mode == "gauge" else EXACT.add(level, value)


def opening_level(before: Iterable[Point], mode: str) -> Decimal:
    """The level at a window's start from the events before it (any order)."""
    level = ZERO
    for _, _, value in sorted(before, key=lambda p: (p[0], p[1])):
        level = next_level(level, value, mode)
    return level


def integrate(opening: Decimal, inside: Iterable[Point], start: int, end: int, mode: str) -> tuple[Decimal, Decimal]:
    """``(∫ level dt over [start, end) in value·µs, closing level)`` given the opening level and the events
    inside the window (any order; events at or after ``end`` are ignored)."""
    level, integral, at = opening, ZERO, start
    for ts, seq, value in sorted(inside, key=lambda p: (p[0], p[1])):
        if ts >= end:
            break
        if ts > at:
            integral = EXACT.add(integral, EXACT.multiply(level, Decimal(ts - at)))
            at = ts
        level = next_level(level, value, mode)
    if end > at:
        integral = EXACT.add(integral, EXACT.multiply(level, Decimal(end - at)))
    return integral, level


def per_unit(integral: Decimal, per: str) -> Decimal:
    """The meter value: the integral (value·µs) divided by ``per`` (trailing zeros dropped: 3870, not 3870.000…)."""
    q = quotient(integral, PER_US[per])
    return q.quantize(ONE, context=EXACT) if q == q.to_integral_value() else q.normalize(EXACT)


def _read(partial) -> Decimal:
    if partial.tw is None:
        return ZERO
    return per_unit(partial.tw, partial.tw_per)


AGGREGATION = Aggregation(
    name="time_weighted", order=7, label="Time-weighted",
    description="integral of a level (gauge: set, delta: add) over time, per second/minute/hour/day",
    needs_key=True, numeric=True, fold=numeric_fold, read=_read, rolled_up=False,
    combined_label="total", columns=(), chart="bar",
    params=(
        Param("mode", MODES, "gauge", "time_weighted: gauge (each event sets the level) or delta (each event adds to it)"),
        Param("per", tuple(PER_US), "hour", "time_weighted: the unit of time the integral is divided by"),
    ),
)
