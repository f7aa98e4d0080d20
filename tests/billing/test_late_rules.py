"""The pure rules of late usage (``billing.adjustments``, ``billing.grace``), without a database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from meterbase.billing.adjustments import (Prior, adjustment_line, billed_covers, late_usage, meter_bills, period_label,
                                           usage_covers)
from meterbase.billing.grace import DEFAULT_GRACE_PERIOD_HOURS, grace_hours, parse_grace_hours, past_grace
from meterbase.billing.invoice import Segment, assemble
from meterbase.billing.periods import period_at
from meterbase.billing.plans import parse_product
from meterbase.errors import ValidationError

UTC = timezone.utc
JAN = datetime(2025, 1, 1, tzinfo=UTC)
GPU = {"model": "graduated", "tiers": [{"up_to": 3600, "unit_price": "0.0004"}, {"up_to": 36000, "unit_price": "0.00035"},
                                       {"up_to": None, "unit_price": "0.0003"}]}
VOLUME = {"model": "volume", "tiers": [{"up_to": 10, "unit_price": "1.00"}, {"up_to": None, "unit_price": "0.50"}]}
PLAN = parse_product({"name": "p", "currency": "USD", "meters": [
    {"meter_id": "calls", "price_per_unit": "0.02", "free_threshold": 1000}, {"meter_id": "gpu", "price": GPU},
    {"meter_id": "vol", "price": VOLUME}]})
PERIOD = period_at(JAN, JAN, PLAN.cycle, JAN)


def priced(calls, gpu, vol):
    quantities = {(m, PERIOD.start, PERIOD.end): Decimal(v) for m, v in (("calls", calls), ("gpu", gpu), ("vol", vol))}
    return assemble(PERIOD, [Segment(PLAN, PERIOD.start, PERIOD.end)], quantities)


def test_differences_are_priced_on_the_period_total():
    before, after = priced(800, 3000, 8), priced(1300, 4000, 12)
    deltas = {d.meter_id: d for d in late_usage(meter_bills(before.lines), [], meter_bills(after.lines))}
    assert deltas["calls"].amount == Decimal("6.00")  # (1,300 − 1,000) × $0.02, not 500 × $0.02
    assert deltas["gpu"].amount == Decimal("0.38")  # $1.58 − $1.20, not 1,000 × $0.0004
    assert deltas["vol"].amount == Decimal("-2.00")  # 12 × $0.50 − 8 × $1.00: more usage, a cheaper band: a credit
    assert (deltas["calls"].quantity_before, deltas["calls"].quantity_after, deltas["calls"].version) == (800, 1300, 1)
    assert (deltas["calls"].free_units, deltas["calls"].billable_units) == (Decimal(200), Decimal(300))
    line = adjustment_line("adj_1", "inv_1", PERIOD.start, PERIOD.end, deltas["vol"])
    assert (line.kind, line.quantity, line.amount) == ("adjustment", Decimal(4), Decimal("-2.00"))
    assert line.description == "vol: correction of usage for 2025-01 after invoicing (credit)"


def test_never_twice_and_a_second_batch_continues_from_the_first():
    first, second, third = priced(800, 0, 0), priced(1300, 0, 0), priced(1400, 0, 0)
    [d1] = late_usage(meter_bills(first.lines), [], meter_bills(second.lines))
    prior = [Prior(d1.meter_id, d1.version, d1.covers, d1.quantity_after, d1.free_units, d1.billable_units, d1.amount)]
    assert late_usage(meter_bills(first.lines), prior, meter_bills(second.lines)) == []
    [d2] = late_usage(meter_bills(first.lines), prior, meter_bills(third.lines))
    assert (d2.version, d2.quantity_before, d2.amount) == (2, Decimal(1300), Decimal("2.00"))
    assert billed_covers(first.lines, prior) == {"calls": (Decimal(1300),), "gpu": (Decimal(0),), "vol": (Decimal(0),)}
    now = {(m, PERIOD.start, PERIOD.end): Decimal(v) for m, v in (("calls", "1300.0"), ("gpu", "0"), ("vol", "0.00"))}
    assert usage_covers(now) == billed_covers(first.lines, prior)  # 1300.0 is 1300: nothing is late


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 50_000), st.integers(0, 30)), min_size=1, max_size=6))
def test_adjustments_add_up_to_the_final_price(usage_over_time):
    """However the period's usage grows and shrinks after invoicing, invoice + adjustments = its final price."""
    invoiced = priced(*usage_over_time[0])
    prior, total = [], invoiced.total
    for state in usage_over_time[1:]:
        for d in late_usage(meter_bills(invoiced.lines), prior, meter_bills(priced(*state).lines)):
            prior.append(Prior(d.meter_id, d.version, d.covers, d.quantity_after, d.free_units, d.billable_units,
                               d.amount))
            total += d.amount
    assert total == priced(*usage_over_time[-1]).total


def test_labels_and_grace_periods():
    assert period_label(JAN, datetime(2025, 2, 1, tzinfo=UTC)) == "2025-01"
    assert period_label(datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)) == "2025-12"
    assert period_label(datetime(2025, 1, 15, tzinfo=UTC), datetime(2025, 2, 15, tzinfo=UTC)) == "2025-01-15 – 2025-02-15"
    assert DEFAULT_GRACE_PERIOD_HOURS == 0 and grace_hours(None, None) == 0
    assert grace_hours(None, 48) == 48 and grace_hours(0, 48) == 0  # the subscription's wins, even 0
    assert not past_grace(PERIOD, 48, PERIOD.end + timedelta(hours=47, minutes=59))
    assert past_grace(PERIOD, 48, PERIOD.end + timedelta(hours=48))
    assert parse_grace_hours(None) is None and parse_grace_hours(8760) == 8760
    for bad in (-1, 8761, 1.5, True, "24"):
        with pytest.raises(ValidationError) as exc:
            parse_grace_hours(bad)
        assert exc.value.field == "grace_period_hours"
