"""The credit ledger as the policy engine's covering balance (Limitr's grants), on both backends: a money grant
pays for the tier-priced cost of allow()'s usage before it becomes overage; with overage disabled (or past
overage_limit) a hard limit refuses what the balance cannot pay and consumes nothing; sub-precision draws accrue
exactly; check() answers from the cache and sees every ledger write."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from meterbase.credits.covering import LedgerCovering
from meterbase.credits.service import CreditService
from meterbase.errors import Conflict
from meterbase.policy.service import PolicyService

from .policy_doc import CENTS, DOLLARS, policy_text


@pytest.fixture
def policy(credit_store, env, clock) -> PolicyService:
    svc = PolicyService(credit_store, policy_text(), environment=env, clock=clock, covering=LedgerCovering("bus_test"))
    return svc


def _ledger(credits: CreditService, ent_id: str, customer: str) -> list[tuple]:
    return [(r.entry.transaction_type, str(r.entry.amount), str(r.entry.balance_after), str(r.entry.overage_after),
             r.entry.reference_id is not None)
            for r in credits.ledger(ent_id, customer, newest_first=False, limit=1000)]


def test_a_money_grant_pays_for_soft_limit_overage_before_it_is_billed(credits, policy):
    ent = credits.create_entitlement(DOLLARS)
    policy.ensure_customer("cus_pro", "pro")
    credits.grant(ent.id, "cus_pro", "1.00", reason="welcome credit")
    # seed 004: pro includes 10 hr; 11 hr puts 3,600 s past it at the first tier, $0.0004/s = $1.44
    d = policy.allow("cus_pro", "gpu_compute", "11hr")
    assert (d.decision.price_diff, d.decision.covered_price, d.decision.overage_price) == (D("1.44"), D("1.00"), D("0.44"))
    assert d.decision.covered == D("2500") and d.decision.overage == D("1100")  # $1.00 buys 2,500 s at $0.0004
    assert credits.balance(ent.id, "cus_pro").balance == 0
    assert _ledger(credits, ent.id, "cus_pro") == [("credit_added", "1.00", "1.00", "0.00", False),
                                                    ("credit_deducted", "1.00", "0.00", "0.00", True)]
    lines = policy.overage_lines("cus_pro", *_epoch_to_far())
    assert [(x.overage, x.line.amount) for x in lines] == [(D("1100"), D("0.44"))]  # only the uncovered part is billed


def _epoch_to_far():
    from datetime import datetime, timezone
    return datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc)


def test_a_customer_at_zero_with_overage_disabled_is_refused_and_consumes_nothing(credits, policy):
    ent = credits.create_entitlement(CENTS)  # 1 credit = 1 cent, no overage
    policy.ensure_customer("cus_pre", "prepaid")
    assert not policy.check("cus_pre", "gpu_compute", "1s").allowed  # no balance yet: a hard limit of 0
    credits.grant(ent.id, "cus_pre", "100")  # $1.00
    preview = policy.check("cus_pre", "gpu_compute", "2500s")  # 2,500 s × $0.0004 = $1.00: exactly covered
    assert preview.allowed and preview.decision.covered_price == D("1.00")
    assert not policy.check("cus_pre", "gpu_compute", "2501s").allowed
    assert policy.allow("cus_pre", "gpu_compute", "2500s").allowed
    assert credits.balance(ent.id, "cus_pre").balance == 0
    refused = policy.allow("cus_pre", "gpu_compute", "1s")
    assert (refused.allowed, refused.reason, refused.consumed) == (False, "limit_exceeded", 0)
    assert policy.status("cus_pre", "gpu_compute").used == D("2500")  # the refused second was not metered
    assert _ledger(credits, ent.id, "cus_pre") == [("credit_added", "100", "100", "0", False),
                                                    ("credit_deducted", "100", "0", "0", True)]


def test_overage_enabled_lets_a_hard_limit_through_until_overage_limit(credits, policy, clock):
    ent = credits.create_entitlement({**CENTS, "overage_enabled": True, "overage_limit": "40",
                                      "overage_behavior": "invoice_at_billing"})
    policy.ensure_customer("cus_o", "prepaid")
    credits.grant(ent.id, "cus_o", "60")
    assert policy.allow("cus_o", "gpu_compute", "2500s").allowed  # $1.00 = 100 credits: 60 from grants, 40 overage
    b = credits.balance(ent.id, "cus_o")
    assert (b.balance, b.overage) == (0, 40)
    refused = policy.allow("cus_o", "gpu_compute", "25s")  # one more cent would pass overage_limit 40
    assert (refused.allowed, refused.consumed) == (False, 0)
    assert credits.balance(ent.id, "cus_o").overage == 40


def test_draws_finer_than_the_precision_accrue_exactly(credits, policy):
    ent = credits.create_entitlement(CENTS)
    policy.ensure_customer("cus_f", "prepaid")
    credits.grant(ent.id, "cus_f", "3")  # 3 cents
    for _ in range(24):  # each second costs $0.0004: 24 s = 0.96 cents, nothing whole to deduct yet
        assert policy.allow("cus_f", "gpu_compute", "1s").allowed
    assert credits.balance(ent.id, "cus_f").balance == 3
    assert policy.check("cus_f", "gpu_compute", "51s").allowed  # $0.0300 - $0.0096 left covers 51 s ($0.0204)
    assert not policy.check("cus_f", "gpu_compute", "52s").allowed
    policy.allow("cus_f", "gpu_compute", "1s")  # 25 s = one whole cent
    assert credits.balance(ent.id, "cus_f").balance == 2
    assert policy.allow("cus_f", "gpu_compute", "50s").allowed  # 75 s = 3 cents in all
    assert credits.balance(ent.id, "cus_f").balance == 0
    assert not policy.allow("cus_f", "gpu_compute", "1s").allowed
    assert policy.status("cus_f", "gpu_compute").used == D("75")


def test_check_sees_every_ledger_write_and_expiry(credits, policy, clock):
    ent = credits.create_entitlement({**CENTS, "expires_after_days": 2})
    policy.ensure_customer("cus_c", "prepaid")
    assert not policy.check("cus_c", "gpu_compute", "25s").allowed
    credits.grant(ent.id, "cus_c", "1")
    assert policy.check("cus_c", "gpu_compute", "25s").allowed  # the cached answer was dropped by the grant
    credits.debit(ent.id, "cus_c", "1")
    assert not policy.check("cus_c", "gpu_compute", "25s").allowed
    credits.grant(ent.id, "cus_c", "1")
    assert policy.check("cus_c", "gpu_compute", "25s").allowed
    clock.advance(days=2)  # the grant expires: no write, the cached money was valid only until then
    assert not policy.check("cus_c", "gpu_compute", "25s").allowed


def test_one_covering_entitlement_per_environment(credits):
    first = credits.create_entitlement(CENTS)
    with pytest.raises(Conflict, match="already covers policy usage"):
        credits.create_entitlement(DOLLARS)
    other = credits.create_entitlement({**DOLLARS, "covers_policy_usage": False})
    with pytest.raises(Conflict):
        credits.update_entitlement(other.id, {"covers_policy_usage": True})
    credits.set_deleted(first.id, True)
    assert credits.update_entitlement(other.id, {"covers_policy_usage": True}).covers_policy_usage
    with pytest.raises(Conflict):
        credits.set_deleted(first.id, False)


def test_a_limit_with_grants_apply_false_is_never_covered(credits, credit_store, env, clock):
    doc = policy_text().replace("limit: { credit: gpu_second, mode: hard, value: 0,",
                                "limit: { credit: gpu_second, mode: hard, value: 0, grants_apply: false,")
    svc = PolicyService(credit_store, doc, environment=env, clock=clock, covering=LedgerCovering())
    ent = credits.create_entitlement(CENTS)
    svc.ensure_customer("cus_g", "prepaid")
    credits.grant(ent.id, "cus_g", "100")
    assert not svc.allow("cus_g", "gpu_compute", "1s").allowed
    assert credits.balance(ent.id, "cus_g").balance == 100
