"""What the web dashboard shows of billing (the ``billing`` section of ``dashboard.providers``).

Registered explicitly by the composition root (``meterbase.app``). Every function takes the store and
the environment of the dashboard session and returns plain dicts or the read models of
``invoicing.overview``; amounts stay exact (``Decimal``/text) and are formatted by the templates in
their currency, quantities in their meter's unit.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from ..billing.grace import grace_hours
from ..errors import NotFound, ValidationError
from ..formatting import describe_price
from ..periods import add_months
from ..storage import audit
from ..storage import billing_adjustments as adj_repo
from ..storage import billing_invoices as inv_repo
from ..storage import billing_repo as repo
from ..storage import billing_runs as runs_repo
from ..storage import meters_repo
from ..timeutil import to_us
from .overview import BillingAccount, BillingViews, MoneyOverview
from .service import Billing


#: Rows of "needs attention" and pending adjustments the invoices page shows.
ATTENTION_ROWS = 50


def period_bounds(period: str | None) -> tuple[int | None, int | None]:
    """``YYYY-MM`` -> the µs bounds of that UTC month (invoices whose period starts in it)."""
    if not period:
        return None, None
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        raise ValidationError(f"period must look like 2025-01, got {period!r}", "period")
    start = datetime(int(period[:4]), int(period[5:]), 1, tzinfo=timezone.utc)
    return to_us(start), to_us(add_months(start, 1))


def _units(conn, env: str, meter_ids) -> dict[str, tuple[str, str]]:
    """meter id -> (name, measurement unit)."""
    out = {}
    for mid in {m for m in meter_ids if m}:
        try:
            m = meters_repo.get_meter(conn, env, mid)
            out[mid] = (m.spec.name, m.spec.measurement_unit)
        except NotFound:
            out[mid] = (mid, "")
    return out


def list_invoices(store, env: str, status: str | None = None, customer_id: str | None = None,
                  period: str | None = None, limit: int = 50, offset: int = 0) -> dict:
    """``{"invoices": [...], "total": n, "attention": [...], "pending": [...]}``: a page of invoices, newest
    period first, with each customer's name; the periods invoice runs could not price (needs attention)
    and the adjustments of late usage no finalized invoice carries yet (of ``customer_id`` when given)."""
    if status and status not in inv_repo.STATUSES:
        raise ValidationError(f"status must be one of {', '.join(inv_repo.STATUSES)}", "status")
    frm, to = period_bounds(period)
    filters = dict(customer_id=customer_id or None, status=status or None, period_from=frm, period_to=to)
    with store.read() as conn:
        found = inv_repo.list_invoices(conn, env, limit, offset, lines=False, **filters)
        total = inv_repo.count_invoices(conn, env, **filters)
        names = repo.customers_by_id(conn, env, [i.customer_id for i in found])
        attention = runs_repo.open_skips(conn, env, customer_id or None, ATTENTION_ROWS)
        pending = [a for a in adj_repo.list_adjustments(conn, env, ATTENTION_ROWS, 0, customer_id=customer_id or None)
                   if a.status != "invoiced"]
    rows = [{**i.__dict__, "customer_name": names[i.customer_id].name if i.customer_id in names else None}
            for i in found]
    return {"invoices": rows, "total": total, "attention": attention, "pending": pending}


def get_invoice(store, env: str, invoice_id: str) -> dict | None:
    """The invoice with its customer, product, lines (meter name and unit, tiers) and status history."""
    with store.read() as conn:
        try:
            inv = inv_repo.get_invoice(conn, env, invoice_id)
        except NotFound:
            return None
        customer = repo.customers_by_id(conn, env, [inv.customer_id]).get(inv.customer_id)
        units = _units(conn, env, [ln.get("meter_id") for ln in inv.lines])
        entries = audit.list_entries(conn, env, limit=20, target=inv.id)
        products = {}
        for ln in inv.lines:
            pid = ln.get("product_id")
            if pid and pid not in products:
                try:
                    products[pid] = repo.get_product(conn, env, pid).plan.name
                except NotFound:
                    products[pid] = pid
    actors = {e["action"]: e["actor"] for e in entries}
    history = [("draft", inv.created_at, None)]
    if inv.finalized_at is not None:
        history.append(("finalized", inv.finalized_at, actors.get("invoice.finalized")))
    if inv.voided_at is not None:
        history.append(("void", inv.voided_at, actors.get("invoice.voided")))
    lines = [{**ln, "meter_name": units.get(ln.get("meter_id"), (None, ""))[0],
              "unit": units.get(ln.get("meter_id"), (None, ln.get("unit") or ""))[1]} for ln in inv.lines]
    return {**inv.__dict__, "lines": lines, "customer": customer, "history": history,
            "products": sorted(set(products.values()))}


def accounts(store, env: str, search: str | None = None, limit: int = 50, offset: int = 0) -> dict:
    """A page of billing customers with their subscriptions and amount due so far: ``{"accounts", "total"}``."""
    with store.read() as conn:
        customers = repo.list_customers(conn, env, limit, offset, search=search or None)
        total = repo.count_customers(conn, env, search=search or None)
    return {"accounts": BillingViews(store).accounts(env, customers), "total": total}


def account(store, env: str, customer_id: str) -> BillingAccount | None:
    return BillingViews(store).account(env, customer_id)


def customer_invoices(store, env: str, customer_id: str, limit: int = 24) -> list:
    with store.read() as conn:
        return inv_repo.list_invoices(conn, env, limit, 0, customer_id=customer_id, lines=False)


def products(store, env: str) -> list[dict]:
    """Every active product: fixed fee, billing period, and each priced meter described (tiers in its unit)."""
    out = []
    with store.read() as conn:
        found = repo.list_products(conn, env, 1000, 0)
        units = _units(conn, env, [u.meter_id for p in found for u in p.plan.usage])
        subscribed = {}
        for sub in repo.load_subscriptions(conn, env):
            subscribed[sub.product_id] = subscribed.get(sub.product_id, 0) + (sub.ends_at is None)
    for p in found:
        plan = p.plan
        meters = []
        for u in plan.usage:
            name, unit = units.get(u.meter_id, (u.meter_id, ""))
            meters.append({"meter_id": u.meter_id, "name": u.description or name, "unit": unit,
                           **describe_price(u.price.to_dict(), plan.currency, unit)})
        out.append({"id": p.id, "name": plan.name, "description": plan.description, "currency": plan.currency,
                    "fixed_fee": plan.fixed_fee.amount, "cycle": plan.cycle, "meters": meters,
                    "grace_period_hours": grace_hours(None, plan.grace_period_hours),
                    "subscriptions": subscribed.get(p.id, 0), "created_at": p.created_at})
    return out


def money(store, env: str) -> MoneyOverview:
    return BillingViews(store).money(env)


def finalize(store, env: str, invoice_id: str):
    return Billing(store).finalize(env, invoice_id)


def void(store, env: str, invoice_id: str):
    return Billing(store).void(env, invoice_id)
