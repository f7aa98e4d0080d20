"""Hypothesis: over random operation sequences (grants, deductions, adjustments, clock moves through cycle ends
and expiries) the ledger's invariants hold, in the pure core and in what the database stores (both backends):

* the balance equals the sum of the open grants' remaining amounts and the sum of the ledger's balance deltas;
  the overage equals the sum of its deltas; each entry starts where the previous one ended;
* per entry, Δbalance − Δoverage is +amount for a credit, −amount for a debit, 0 for a rollover (a transfer);
* every amount is exact at the entitlement's precision; a refused deduction changes nothing;
* overage never exceeds overage_limit; after settling, no open grant has passed its end.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from meterbase.billing.periods import Cycle
from meterbase.credits import ledger
from meterbase.credits.cycles import Schedule
from meterbase.credits.entitlement import OVERAGE_BEHAVIORS, CreditEntitlement
from meterbase.credits.ledger import CreditAccount, InsufficientCredits
from meterbase.credits.service import CreditService
from meterbase.storage import credits_repo
from meterbase.timeutil import to_us
from support.clock import FakeClock

DAY = 86_400_000_000
MOSTLY = st.sampled_from([True, True, True, False])
T0 = to_us(FakeClock().now)


@st.composite
def entitlements(draw) -> CreditEntitlement:
    precision = draw(st.integers(0, 3))
    overage = draw(MOSTLY)
    rollover = draw(MOSTLY)
    timeframe = draw(st.none() | st.integers(1, 40))
    return CreditEntitlement(
        id="cde_prop", environment="prop", name="p", unit="u", precision=precision,
        currency="USD", price_per_unit=Decimal("0.01"), overage_enabled=overage,
        overage_limit=draw(st.none() | st.integers(0, 500).map(Decimal)),
        overage_behavior=draw(st.sampled_from(OVERAGE_BEHAVIORS)),
        expires_after_days=draw(st.none() | st.integers(1, 60)), rollover_enabled=rollover,
        rollover_percentage=draw(st.none() | st.integers(0, 100)),
        rollover_timeframe_count=timeframe, rollover_timeframe_interval=None if timeframe is None else "Day",
        max_rollover_count=draw(st.sampled_from([None, 0, 0, 1, 2])),
        low_balance_threshold_percent=draw(st.none() | st.integers(0, 100)),
    )


def amounts(precision: int, low: int = 1):
    q = Decimal(1).scaleb(-precision)
    return st.integers(low, 3000 * 10**precision).map(lambda n: n * q)


def ops(precision: int):
    return st.lists(st.one_of(
        st.tuples(st.just("grant"), amounts(precision), st.none() | st.integers(1, 50)),
        st.tuples(st.just("debit"), amounts(precision), st.booleans()),
        st.tuples(st.just("adjust"), amounts(precision), st.booleans()),
        st.tuples(st.just("advance"), st.integers(1, 45 * 24), st.just(None)),
    ), min_size=5, max_size=30)


def check(acct: CreditAccount, ent: CreditEntitlement, entries: list, now: int) -> None:
    q = Decimal(1).scaleb(-ent.precision)
    open_sum = sum((g.remaining for g in acct.grants if g.is_open), Decimal(0))
    assert acct.balance == open_sum
    assert acct.overage >= 0 and all(g.remaining >= 0 for g in acct.grants)
    if ent.overage_limit is not None:
        assert acct.overage <= ent.overage_limit
    bal = ovr = Decimal(0)
    for e in entries:
        assert (e.balance_before, e.overage_before) == (bal, ovr), e
        d_bal, d_ovr = e.balance_after - e.balance_before, e.overage_after - e.overage_before
        expected = Decimal(0) if e.transaction_type == ledger.CREDIT_ROLLED_OVER else (
            e.amount if e.is_credit else -e.amount)
        assert d_bal - d_ovr == expected, e
        assert e.amount > 0 and e.amount == e.amount.quantize(q)
        bal, ovr = e.balance_after, e.overage_after
    assert (bal, ovr) == (acct.balance, acct.overage)
    assert all(g.ends_at is None or g.ends_at > now for g in acct.grants if g.is_open)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_pure_ledger_invariants(data):
    ent = data.draw(entitlements())
    acct = CreditAccount("cbl_prop")
    now = T0
    if data.draw(MOSTLY):
        credits = data.draw(st.none() | amounts(ent.precision))
        ledger.attach_schedule(acct, ent, Schedule(T0, Cycle("month", 1), credits, "sub_1"), now)
    for kind, amount, flag in data.draw(ops(ent.precision)):
        ledger.settle(acct, ent, now)
        if kind == "advance":
            now += amount * 3_600_000_000
            continue
        before = (acct.balance, acct.overage, len(acct.entries), [(g.id, g.remaining) for g in acct.grants])
        try:
            if kind == "grant":
                ledger.add(acct, ent, amount, now, expires_at=None if flag is None else now + flag * DAY)
            elif kind == "debit":
                ledger.deduct(acct, ent, amount, now, allow_overage=flag)
            else:
                ledger.adjust(acct, ent, amount if flag else -amount, now)
        except InsufficientCredits:
            assert before == (acct.balance, acct.overage, len(acct.entries),
                              [(g.id, g.remaining) for g in acct.grants])
        check(acct, ent, acct.entries, now)
    ledger.settle(acct, ent, now)
    check(acct, ent, acct.entries, now)


def test_rollover_share_is_truncated_and_the_fraction_expires():
    ent = CreditEntitlement(id="e", environment="x", name="n", unit="u", precision=1, rollover_enabled=True,
                      rollover_percentage=33)
    acct = CreditAccount("b")
    ledger.attach_schedule(acct, ent, Schedule(T0, Cycle("day", 1)), T0)
    ledger.add(acct, ent, Decimal("10.1"), T0, cycle_end=T0 + DAY)
    out = ledger.settle(acct, ent, T0 + DAY)
    # 33 % of 10.1 = 3.333 -> 3.3 rolls over (truncated); 6.8 expires with the old grant
    assert [(e.transaction_type, e.amount, e.balance_after) for e in out] == [
        ("credit_rolled_over", Decimal("3.3"), Decimal("10.1")), ("credit_expired", Decimal("6.8"), Decimal("3.3"))]


# ---------------------------------------------------------------------------------------------- stored


@pytest.fixture
def clocked(credit_store, clock):
    return credit_store, clock


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_stored_balance_equals_its_ledger(clocked, data):
    store, clock = clocked
    clock.now = FakeClock().now
    svc = CreditService(store, f"p_{secrets.token_hex(5)}", business_id="bus_test")
    ent = data.draw(entitlements())
    body = {k: getattr(ent, k) for k in ("name", "unit", "precision", "currency", "overage_enabled",
                                         "overage_behavior", "expires_after_days", "rollover_enabled",
                                         "rollover_percentage", "rollover_timeframe_count",
                                         "rollover_timeframe_interval", "max_rollover_count")}
    body.update(price_per_unit="0.01", overage_limit=None if ent.overage_limit is None else str(ent.overage_limit))
    ent = replace(svc.create_entitlement(body))
    if data.draw(st.booleans()):
        svc.set_cycle(ent.id, "cus_p", {"anchor": "2025-01-01T00:00:00Z", "interval": "month",
                                        "credits_per_cycle": str(data.draw(amounts(ent.precision)))})
    for kind, amount, flag in data.draw(ops(ent.precision)):
        if kind == "advance":
            clock.advance(timedelta(hours=amount).total_seconds())
            continue
        try:
            if kind == "grant":
                svc.grant(ent.id, "cus_p", str(amount),
                          expires_at=None if flag is None else (clock.now + timedelta(days=flag)).isoformat())
            elif kind == "debit":
                svc.debit(ent.id, "cus_p", str(amount), allow_overage=flag)
            else:
                svc.adjust(ent.id, "cus_p", str(amount if flag else -amount))
        except InsufficientCredits:
            pass
    svc.settle_due()
    shown = svc.balance(ent.id, "cus_p")
    entries = list(reversed(svc.ledger(ent.id, "cus_p", limit=1000)))
    with store.read() as conn:
        row = credits_repo.get_balance(conn, svc.environment, ent.id, "cus_p")
        if row is None:
            assert entries == [] and shown.balance == 0
            return
        acct = credits_repo.read_account(conn, row)
    assert (row.balance, row.overage) == (shown.balance, shown.overage) == (acct.balance, acct.overage)
    check(acct, ent, [r.entry for r in entries], store.now())
