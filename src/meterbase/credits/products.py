"""Products attach credits: checks when a product is created, and subscriptions issuing credits per cycle.

Called by the billing use cases inside their own transactions (``invoicing.service.Billing``):

* :func:`check_plan` — a product's ``credit_entitlements`` and credit-paid meters name live entitlements,
  amounts fit each entitlement's precision, and a credit-paid meter counts or sums (its events deduct as they
  arrive, so its aggregation must add up).
* :func:`sync_subscription` — after a subscription is created, changes plan or is cancelled: every credit
  entitlement the subscription's current product attaches makes the customer's balance follow the
  subscription's billing cycle (``credits.cycles.Schedule``: anchor, cycle, ``credits_amount`` × quantity per
  cycle, within the subscription's start and end). The ledger then issues each cycle's credits at the cycle's
  start — idempotent per cycle, in time order with rollover, expiry and the overage behaviour at each cycle
  end — lazily from the clock: a read or ``allow()`` in a new cycle sees its credits without waiting for a
  sweep. A plan change takes effect for cycles starting after it (the running cycle keeps what it was issued;
  a newly attached entitlement is issued the running cycle's credits at once); an entitlement the new plan no
  longer attaches stops issuing but keeps settling its cycle ends. ``trial_credits`` are granted once, when
  the subscription is created (expiring at the end of its first period when
  ``trial_credits_expire_after_trial``). One subscription feeds a customer's balance of an entitlement at a
  time: a second one attaching the same entitlement is refused (409).
"""

from __future__ import annotations

from decimal import Decimal

from ..billing.periods import period_at
from ..billing.plans import Plan
from ..errors import Conflict, NotFound, ValidationError
from ..exact import EXACT
from ..meters.aggregations import REGISTRY
from ..storage import billing_repo, credits_repo as repo, meters_repo
from ..storage.billing_repo import Subscription
from ..timeutil import to_us
from . import ledger
from .amounts import parse_amount
from .cycles import Schedule
from .entitlement import CreditEntitlement
from .operations import change, peek_balance, require_entitlement

ADDITIVE = tuple(a.name for a in REGISTRY.values() if a.additive)  # from the registry


def _live(conn, env: str, entitlement_id: str, field: str) -> CreditEntitlement:
    try:
        return require_entitlement(conn, env, entitlement_id)
    except NotFound:
        raise ValidationError(f"credit entitlement {entitlement_id!r} not found", field) from None


def check_plan(conn, env: str, plan: Plan) -> None:
    """Refuse (422 naming the field) credits a product cannot attach."""
    for i, a in enumerate(plan.credits):
        where = f"credit_entitlements[{i}]"
        ent = _live(conn, env, a.entitlement_id, f"{where}.credit_entitlement_id")
        parse_amount(format(a.credits_amount, "f"), ent.precision, f"{where}.credits_amount")
        if a.trial_credits is not None:
            parse_amount(format(a.trial_credits, "f"), ent.precision, f"{where}.trial_credits")
    for i, line in enumerate(plan.usage):
        if line.credits is None:
            continue
        where = f"meters[{i}]"
        _live(conn, env, line.credits.entitlement_id, f"{where}.credit_entitlement_id")
        meter = meters_repo.get_meter(conn, env, line.meter_id)
        if meter.aggregation not in ADDITIVE:
            raise ValidationError(f"a meter paid with credits must count or sum (its events deduct credits as they "
                                  f"arrive); {meter.spec.name!r} takes the {meter.aggregation}", f"{where}.meter_id")


def _schedule(sub: Subscription, amount: Decimal | None) -> Schedule:
    return Schedule(sub.anchor_at, sub.cycle, amount, sub.id, sub.start_at, sub.ends_at)


def _follow(conn, env: str, ent: CreditEntitlement, customer_id: str, schedule: Schedule, now: int,
            business_id: str | None) -> None:
    bal = repo.get_balance(conn, env, ent.id, customer_id)
    current = None if bal is None else bal.parsed_schedule()
    if current == schedule:
        return
    if current is not None and current.source_id != schedule.source_id and current.credits_per_cycle is not None \
            and (current.ends_at is None or current.ends_at > now):
        raise Conflict(f"customer {customer_id!r} already receives credits of {ent.name!r} from "
                       f"{current.source_id or 'a cycle set through the API'}; one source per balance",
                       "credit_entitlements")

    def op(acct, e) -> None:
        ledger.attach_schedule(acct, e, schedule, now)

    change(conn, env, ent.id, customer_id, now, op, business_id=business_id)


def sync_subscription(conn, env: str, subscription_id: str, now: int, *, created: bool = False,
                      business_id: str | None = None) -> None:
    """Make the customer's balances follow what the subscription's current product attaches (module docstring)."""
    sub = billing_repo.get_subscription(conn, env, subscription_id)
    plan = billing_repo.get_product(conn, env, sub.product_id).plan
    attached = {a.entitlement_id: a for a in plan.credits}
    for bal in repo.list_balances(conn, env, None, sub.customer_id, 1000, 0):
        current = bal.parsed_schedule()
        if current is not None and current.source_id == sub.id and bal.entitlement_id not in attached:
            ent = repo.get_entitlement(conn, env, bal.entitlement_id)
            if ent is not None and ent.deleted_at is None:  # dropped by the new plan: settle, issue no more
                _follow(conn, env, ent, sub.customer_id, _schedule(sub, None), now, business_id)
    for a in plan.credits:
        ent = repo.get_entitlement(conn, env, a.entitlement_id)
        if ent is None or ent.deleted_at is not None:
            continue  # a deleted entitlement takes no ledger writes
        amount = EXACT.multiply(a.credits_amount, Decimal(sub.quantity))
        _follow(conn, env, ent, sub.customer_id, _schedule(sub, amount), now, business_id)
        if created and a.trial_credits is not None:
            _trial(conn, env, ent, sub, EXACT.multiply(a.trial_credits, Decimal(sub.quantity)),
                   a.trial_credits_expire_after_trial, now, business_id)


def _trial(conn, env: str, ent: CreditEntitlement, sub: Subscription, amount: Decimal, expire: bool, now: int,
           business_id: str | None) -> None:
    first_end = to_us(period_at(sub.start, sub.anchor, sub.cycle, sub.start).end)
    if expire and first_end <= now:
        return  # the first period is over: trial credits would be expired already
    key = f"sys:trial:{sub.id}:{ent.id}"

    def op(acct, e):
        return ledger.add(acct, e, amount, now, expires_at=first_end if expire else None, source_type="subscription",
                          source_id=sub.id, reason="trial credits", key=key, reference=("subscription", sub.id))

    change(conn, env, ent.id, sub.customer_id, now, op, key=key, request={"kind": "trial", "amount": str(amount)},
           business_id=business_id)


def subscription_credits(conn, env: str, sub: Subscription, now: int) -> list[dict]:
    """Dodo's ``SubscriptionRetrieveCreditUsageResponse`` items: each entitlement the subscription's product uses."""
    plan = billing_repo.get_product(conn, env, sub.product_id).plan
    ids = [a.entitlement_id for a in plan.credits] + [u.credits.entitlement_id for u in plan.usage if u.credits]
    out = []
    for ent_id in dict.fromkeys(ids):
        ent = repo.get_entitlement(conn, env, ent_id)
        if ent is None:
            continue
        b = peek_balance(conn, env, ent_id, sub.customer_id, now) if ent.deleted_at is None else None
        balance = Decimal(0) if b is None else b.balance
        overage = Decimal(0) if b is None else b.overage
        limit = ent.overage_limit
        room = None if not ent.overage_enabled or limit is None else max(Decimal(0), limit - overage)
        out.append({
            "balance": ent.amount_text(balance), "credit_entitlement_id": ent.id, "credit_entitlement_name": ent.name,
            "limit_reached": (overage >= limit if limit is not None else False) if ent.overage_enabled else balance <= 0,
            "overage": ent.amount_text(overage), "overage_enabled": ent.overage_enabled, "unit": ent.unit,
            "overage_limit": None if limit is None else ent.amount_text(limit),
            "remaining_headroom": None if room is None else ent.amount_text(room),
        })
    return out



# ---------------------------------------------------------------------------------------------- Dodo shapes


def _ent_settings(ent: CreditEntitlement) -> dict:
    return {"credit_entitlement_id": ent.id, "credit_entitlement_name": ent.name, "overage_behavior": ent.overage_behavior,
            "overage_enabled": ent.overage_enabled, "rollover_enabled": ent.rollover_enabled,
            "expires_after_days": ent.expires_after_days, "low_balance_threshold_percent": ent.low_balance_threshold_percent,
            "max_rollover_count": ent.max_rollover_count, "rollover_percentage": ent.rollover_percentage,
            "rollover_timeframe_count": ent.rollover_timeframe_count,
            "rollover_timeframe_interval": ent.rollover_timeframe_interval,
            "overage_limit": None if ent.overage_limit is None else ent.amount_text(ent.overage_limit)}


def dodo_mappings(conn, env: str, product_id: str, plan: Plan) -> list[dict]:
    """A product's ``credit_entitlements`` as Dodo's ``CreditEntitlementMappingResponse``."""
    out = []
    for a in plan.credits:
        ent = repo.get_entitlement(conn, env, a.entitlement_id)
        if ent is None:
            continue
        price = None if ent.price_per_unit is None else format(ent.price_per_unit, "f")
        out.append({"id": f"cem_{product_id}_{ent.id}", **_ent_settings(ent), "credit_entitlement_unit": ent.unit,
                    "credits_amount": ent.amount_text(a.credits_amount), "currency": ent.currency,
                    "price_per_unit": price, "proration_behavior": "no_prorate",
                    "trial_credits": None if a.trial_credits is None else ent.amount_text(a.trial_credits),
                    "trial_credits_expire_after_trial": a.trial_credits_expire_after_trial})
    return out


def dodo_carts(conn, env: str, sub: Subscription, now: int, meter_names: dict[str, str]) -> tuple[list[dict], list[dict]]:
    """A subscription's ``credit_entitlement_cart`` and ``meter_credit_entitlement_cart`` (Dodo's shapes)."""
    plan = billing_repo.get_product(conn, env, sub.product_id).plan
    carts = []
    for a in plan.credits:
        ent = repo.get_entitlement(conn, env, a.entitlement_id)
        if ent is None:
            continue
        b = peek_balance(conn, env, ent.id, sub.customer_id, now) if ent.deleted_at is None else None
        carts.append({**_ent_settings(ent), "credits_amount": ent.amount_text(EXACT.multiply(a.credits_amount,
                                                                                            Decimal(sub.quantity))),
                      "product_id": sub.product_id, "unit": ent.unit,
                      "remaining_balance": ent.amount_text(Decimal(0) if b is None else b.balance),
                      "overage_balance": ent.amount_text(Decimal(0) if b is None else b.overage)})
    meters = [{"credit_entitlement_id": u.credits.entitlement_id, "meter_id": u.meter_id,
               "meter_name": meter_names.get(u.meter_id, u.meter_id),
               "meter_units_per_credit": format(u.credits.units_per_credit, "f"), "product_id": sub.product_id}
              for u in plan.usage if u.credits is not None]
    return carts, meters
