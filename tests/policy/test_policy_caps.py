"""Spend caps, observe limits, refunds and a covering balance in the pure engine (Limitr's examples)."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from meterbase.policy import CapState, Decision, Policy, allow, check, limit, load_policy, remaining, value

POLICY = """
policy:
  credits:
    tiered_tok:   # 0-100 @ 0.01, 100-1000 @ 0.005, 1000+ @ 0.001
      pricing_model: tiered
      tiers: [{up_to: 100, price: {amount: 0.01}}, {up_to: 1000, price: {amount: 0.005}}, {price: {amount: 0.001}}]
      overhead_cost: 0.002
    volume_tok:
      pricing_model: volume
      tiers: [{up_to: 100, price: {amount: 0.01}}, {up_to: 1000, price: {amount: 0.005}}, {price: {amount: 0.001}}]
    step_tok:
      pricing_model: stairstep
      tiers: [{up_to: 100, price: {amount: 5}}, {up_to: 1000, price: {amount: 20}}, {price: {amount: 50}}]
    flat: {price: {amount: 1}}
    unpriced: {}
  plans:
    metered:
      default: true
      caps:
        spend: {value: 100, observe_only: true}
        over: {value: 100, observe_only: true, overage_only: true}
        limit: {value: 1.5, scope: [tiered_capped]}
        one_dollar: {value: 1, scope: [volume_capped]}
        cost: {value: 0.3, overhead_cost: true, scope: [tiered_costly]}
        refundable: {value: 100, observe_only: true, follow_decrements: true, scope: [flat_soft]}
      entitlements:
        tiered: {limit: {credit: tiered_tok, mode: soft, value: 0}}
        tiered_capped: {limit: {credit: tiered_tok, mode: soft, value: 0}}
        tiered_included: {limit: {credit: tiered_tok, mode: soft, value: 50}}
        tiered_hard: {limit: {credit: tiered_tok, mode: hard, value: 0}}
        tiered_costly: {limit: {credit: tiered_tok, mode: soft, value: 1000}}
        volume: {limit: {credit: volume_tok, mode: soft, value: 0}}
        volume_capped: {limit: {credit: volume_tok, mode: soft, value: 0}}
        step: {limit: {credit: step_tok, mode: soft, value: 0}}
        flat_soft: {limit: {credit: flat, mode: soft, value: 10, minimum: 0}}
        flat_hard: {limit: {credit: flat, mode: hard, value: 10}}
        shadow: {limit: {credit: flat, mode: observe, value: 10}}
        unpriced: {limit: {credit: unpriced, mode: soft, value: 10}}
"""


class Meter:
    """One customer's usage of one entitlement and the plan's caps, driven through the pure engine."""

    def __init__(self, policy: Policy, entitlement: str, covering: D | None = None):
        plan = policy.plan("metered")
        self.ent = plan.entitlements[entitlement]
        self.caps = {cap.name: D(0) for cap in plan.caps_for(entitlement)}
        self.plan = plan
        self.used = self.billed = D(0)
        self.covering = covering

    def _states(self) -> tuple[CapState, ...]:
        return tuple(CapState(cap, self.caps[cap.name]) for cap in self.plan.caps_for(self.ent.name))

    def check(self, amount) -> Decision:
        return check(self.ent, self.used, amount, caps=self._states(), covering=self.covering, billed=self.billed)

    def allow(self, amount) -> Decision:
        d = allow(self.ent, self.used, amount, customer_id="c", caps=self._states(), covering=self.covering,
                  billed=self.billed)
        self.used, self.billed = d.used_after, self.billed + d.overage
        for r in d.caps:
            self.caps[r.name] = r.spent_after
        if self.covering is not None:
            self.covering -= d.covered_price
        return d


def policy() -> Policy:
    return load_policy(POLICY)


def test_a_spend_cap_follows_the_tier_position() -> None:
    m = Meter(policy(), "tiered")
    assert [m.allow(n).price_diff for n in (100, 100, 1000)] == [D("1.0"), D("0.5"), D("4.2")]  # 800 @ .005 + 200 @ .001
    assert m.caps["spend"] == D("5.7")


def test_included_units_count_at_the_first_rate_except_for_overage_only_caps() -> None:
    m = Meter(policy(), "tiered_included")
    m.allow(60)  # 50 included + 10 billable
    assert (m.caps["spend"], m.caps["over"]) == (D("0.6"), D("0.1"))
    m.allow(100)  # billable position 10: 90 @ .01 + 10 @ .005
    assert (m.caps["spend"], m.caps["over"]) == (D("1.55"), D("1.05"))
    m.allow(-40)  # a real decrement moves neither (no follow_decrements)
    assert (m.caps["spend"], m.caps["over"]) == (D("1.55"), D("1.05"))


def test_an_enforcing_cap_prices_from_the_current_position() -> None:
    m = Meter(policy(), "tiered_capped")
    assert m.allow(100)  # $1.00
    assert m.check(100)  # from position 100 it costs $0.50, not $1.00
    assert m.allow(100)
    refused = m.check(1)
    assert (refused.allowed, refused.reason, refused.cap) == (False, "cap_exceeded", "limit")
    denied = m.allow(1)
    assert not denied and denied.consumed == 0 and [e.name for e in denied.events] == ["cap-limit"]
    assert denied.events[0].payload()["cap"] == {"name": "limit", "value": D("1.5"), "spent": D("1.5"),
                                                 "charge": D("0.005")}


def test_volume_band_crossings_lower_a_cap_to_the_true_total() -> None:
    m = Meter(policy(), "volume_capped")
    m.allow(100)
    assert m.caps["one_dollar"] == D("1.0")
    assert m.allow(1).price_diff == D("-0.495")  # more units, cheaper band: the whole total is repriced
    assert m.caps["one_dollar"] == D("0.505")
    m.allow(90)
    assert m.caps["one_dollar"] == D("0.955")
    assert not m.allow(10)  # would be $1.005


def test_stairstep_pays_a_bands_fee_once_when_entering_it() -> None:
    m = Meter(policy(), "step")
    assert [m.allow(n).price_diff for n in (10, 80, 20)] == [D(5), D(0), D(15)]
    assert m.caps["spend"] == D(20)


def test_an_overhead_cap_counts_your_cost() -> None:
    m = Meter(policy(), "tiered_costly")
    first = m.allow(100)
    assert (first.price_diff, first.overhead_cost, m.caps["cost"]) == (D(0), D("0.2"), D("0.2"))  # inside the limit
    assert not m.allow(51)  # 51 × $0.002 = $0.102 would cross $0.30
    assert m.allow(50) and m.caps["cost"] == D("0.3")


def test_observe_limit_never_refuses_and_reports() -> None:
    p = policy()
    m = Meter(p, "shadow")
    d = m.allow(25)
    assert d.allowed and d.over_limit and (d.overage, d.overage_price) == (0, 0)
    assert (d.limit, d.price_diff) == (D(10), D(15))  # what the shadow limit would have billed
    assert [e.name for e in d.events] == ["meter-changed"]
    ent = p.entitlement("metered", "shadow")
    assert (limit(ent), remaining(ent, 25), value(ent, 25, percent=True)) == (None, None, None)  # as Limitr


def test_flat_price_diff_sequence_with_refunds_and_a_minimum() -> None:
    m = Meter(policy(), "flat_soft")
    steps = [(8, "0", "0"), (5, "3", "3"), (2, "2", "2"), (-4, "-4", "-4")]  # Limitr's billing_events example
    for amount, price, overage_price in steps:
        d = m.allow(amount)
        assert (d.price_diff, d.overage_price) == (D(price), D(overage_price)), amount
    assert (m.used, m.billed) == (D(11), D(1))
    floored = m.allow(-100)  # minimum: 0
    assert (floored.consumed, m.used, floored.price_diff, m.billed) == (D(-11), D(0), D(-1), D(0))
    assert m.caps["refundable"] == 0  # a follow_decrements cap came back down with the refunds


def test_tiered_price_diff_sequence_with_a_refund() -> None:
    m = Meter(policy(), "tiered")
    assert [m.allow(n).price_diff for n in (80, 40, -60)] == [D("0.8"), D("0.3"), D("-0.5")]
    assert m.used == 60


def test_a_refused_call_reports_its_worth_and_an_unpriced_one_has_none() -> None:
    p = policy()
    refused = Meter(p, "flat_hard")
    refused.used = D(0)
    d = refused.allow(12)
    assert (d.allowed, d.price_diff, d.events[0].name) == (False, D(2), "limit-reached")
    unpriced = Meter(p, "unpriced").allow(20)
    assert (unpriced.price_diff, unpriced.overage_price, unpriced.overage) == (None, None, D(10))


def test_a_covering_balance_covers_overage_before_it_is_billed() -> None:
    m = Meter(policy(), "flat_soft", covering=D(2))
    d = m.allow(15)  # 5 over, $2 of it covered
    assert (d.price_diff, d.overage, d.covered, d.covered_price, d.overage_price) == (D(5), D(3), D(2), D(2), D(3))
    assert [e.name for e in d.events] == ["meter-overage"] and d.events[0].payload()["covered"] == D(2)
    assert m.covering == 0


def test_a_covering_balance_extends_a_hard_limit_at_the_tier_position() -> None:
    m = Meter(policy(), "tiered_hard", covering=D("1.5"))  # $1.50 buys 100 @ .01 + 100 @ .005
    assert not m.check(201) and m.check(200)
    d = m.allow(150)  # costs 1.0 + 0.25
    assert (d.allowed, d.covered_price, d.overage, m.covering) == (True, D("1.25"), 0, D("0.25"))
    assert not m.check(51) and m.check(50)  # $0.25 @ .005 from position 150


@given(steps=st.lists(st.decimals(min_value=-50, max_value=120, places=2), max_size=30))
def test_an_enforcing_cap_is_never_exceeded(steps: list[D]) -> None:
    m = Meter(policy(), "tiered_capped")
    for amount in steps:
        predicted = m.check(amount)
        assert m.allow(amount).allowed == predicted.allowed
        assert m.caps["limit"] <= D("1.5")
