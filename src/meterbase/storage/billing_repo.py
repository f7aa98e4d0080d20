"""Billing rows: customers, products (plans), subscriptions with their plan segments, threshold hits,
and the invoice run's reads (``snapshot``: one consistent read transaction; ``load_subscriptions``;
``lock_subscriptions`` / ``plan_histories``: what the transaction writing invoices re-reads).

Plain SQLAlchemy Core on the caller's connection (the use cases are ``meterbase.invoicing``'s);
validation happens in ``meterbase.billing`` before anything reaches here. Rows come back as small
dataclasses with decoded JSON.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator

import orjson
from sqlalchemy import func, or_, select, update

from ..billing.periods import Cycle
from ..billing.plans import Plan, plan_from_stored
from ..errors import Conflict, NotFound
from ..ids import new_id
from ..pricing.decimals import text
from ..timeutil import from_us, iso_us
from . import dialect, upsert
from .schema import billing_customers as tc
from .schema import billing_threshold_hits as th
from .schema import billing_plan_segments as tg
from .schema import billing_products as tp
from .schema import billing_subscriptions as ts


def _json(value) -> str:
    return orjson.dumps(value if value is not None else {}).decode()


# -- customers ------------------------------------------------------------------------------------
@dataclass
class Customer:
    id: str
    environment: str
    email: str
    name: str
    phone_number: str | None
    metadata: dict
    created_at: int

    def to_dict(self) -> dict:
        return {"id": self.id, "object": "customer", "email": self.email, "name": self.name,
                "phone_number": self.phone_number, "metadata": self.metadata, "environment": self.environment,
                "created_at": iso_us(self.created_at)}


def _customer(row) -> Customer:
    return Customer(row.id, row.environment, row.email, row.name, row.phone_number, orjson.loads(row.metadata),
                    row.created_at)


def insert_customer(conn, environment: str, data: dict, now_us: int) -> Customer:
    cid = data.get("id") or new_id("cus")
    stmt = upsert.insert(conn, tc).values(
        environment=environment, id=cid, email=data["email"], name=data["name"],
        phone_number=data.get("phone_number"), metadata=_json(data.get("metadata")), created_at=now_us,
        updated_at=now_us,
    ).on_conflict_do_nothing()
    if not upsert.inserted(conn, stmt, tc.c.id):
        raise Conflict(f"customer {cid!r} already exists", "id")
    return get_customer(conn, environment, cid)


def get_customer(conn, environment: str, customer_id: str) -> Customer:
    row = conn.execute(select(tc).where(tc.c.environment == environment, tc.c.id == customer_id)).first()
    if row is None:
        raise NotFound(f"customer {customer_id!r} not found", "customer_id")
    return _customer(row)


def _customer_filter(q, environment: str, email: str | None, name: str | None, search: str | None):
    q = q.where(tc.c.environment == environment)
    if email:
        q = q.where(tc.c.email == email)
    if name:
        q = q.where(tc.c.name.icontains(name, autoescape=True))  # % and _ match themselves
    if search:
        q = q.where(or_(*(c.icontains(search, autoescape=True) for c in (tc.c.id, tc.c.name, tc.c.email))))
    return q


def list_customers(conn, environment: str, limit: int, offset: int, email: str | None = None,
                   name: str | None = None, search: str | None = None) -> list[Customer]:
    """Newest first; ``search`` matches the id, name or email anywhere (case-insensitive)."""
    q = _customer_filter(select(tc), environment, email, name, search)
    q = q.order_by(tc.c.created_at.desc(), tc.c.id).offset(offset).limit(limit)
    return [_customer(r) for r in conn.execute(q)]


def count_customers(conn, environment: str, email: str | None = None, name: str | None = None,
                    search: str | None = None) -> int:
    q = _customer_filter(select(func.count()).select_from(tc), environment, email, name, search)
    return conn.execute(q).scalar_one()


def customers_by_id(conn, environment: str, ids: list[str]) -> dict[str, Customer]:
    if not ids:
        return {}
    rows = conn.execute(select(tc).where(tc.c.environment == environment, tc.c.id.in_(sorted(set(ids)))))
    return {r.id: _customer(r) for r in rows}


# -- products -------------------------------------------------------------------------------------
@dataclass
class Product:
    id: str
    environment: str
    plan: Plan
    tax_category: str | None
    metadata: dict
    archived: bool
    created_at: int
    updated_at: int

    def to_dict(self) -> dict:
        p = self.plan
        return {"id": self.id, "object": "product", "name": p.name, "description": p.description,
                "currency": p.currency, "fixed_fee": text(p.fixed_fee.amount),
                "billing_period": {"interval": p.cycle.unit, "count": p.cycle.count},
                "meters": p.usage_dicts(), "grace_period_hours": p.grace_period_hours,
                "credit_entitlements": p.credit_dicts(),
                "metadata": self.metadata, "archived": self.archived,
                "environment": self.environment, "created_at": iso_us(self.created_at),
                "updated_at": iso_us(self.updated_at)}


def _product(row) -> Product:
    plan = plan_from_stored(row.id, row.name, row.currency, row.fixed_fee, row.interval, row.interval_count,
                            orjson.loads(row.lines), row.description, row.grace_period_hours,
                            orjson.loads(row.credits) if row.credits else None)
    return Product(row.id, row.environment, plan, row.tax_category, orjson.loads(row.metadata), bool(row.archived),
                   row.created_at, row.updated_at)


def insert_product(conn, environment: str, plan: Plan, now_us: int, metadata: dict | None = None,
                   tax_category: str | None = None) -> Product:
    pid = new_id("prd")
    conn.execute(tp.insert().values(
        id=pid, environment=environment, name=plan.name, description=plan.description, currency=plan.currency,
        fixed_fee=plan.fixed_fee.amount, interval=plan.cycle.unit, interval_count=plan.cycle.count,
        lines=_json(plan.usage_dicts()), tax_category=tax_category, metadata=_json(metadata), archived=False,
        created_at=now_us, updated_at=now_us, grace_period_hours=plan.grace_period_hours,
        credits=_json(plan.credit_dicts()) if plan.credits else None,
    ))
    return get_product(conn, environment, pid)


def get_product(conn, environment: str, product_id: str) -> Product:
    row = conn.execute(select(tp).where(tp.c.environment == environment, tp.c.id == product_id)).first()
    if row is None:
        raise NotFound(f"product {product_id!r} not found", "product_id")
    return _product(row)


def list_products(conn, environment: str, limit: int, offset: int, archived: bool | None = False) -> list[Product]:
    q = select(tp).where(tp.c.environment == environment)
    if archived is not None:
        q = q.where(tp.c.archived == archived)
    q = q.order_by(tp.c.created_at.desc(), tp.c.id).offset(offset).limit(limit)
    return [_product(r) for r in conn.execute(q)]


# -- subscriptions ---------------------------------------------------------------------------------
@dataclass
class Subscription:
    id: str
    environment: str
    customer_id: str
    product_id: str
    quantity: int
    cycle: Cycle
    start_at: int
    anchor_at: int
    cancel_at_period_end: bool
    ends_at: int | None
    thresholds: list
    billing: dict
    metadata: dict
    created_at: int
    updated_at: int
    segments: list[tuple[int, str, int]] = field(default_factory=list)  # (effective_at, product_id, quantity)
    grace_period_hours: int | None = None  # None: the product's (billing.grace)

    def to_dict(self, now_us: int) -> dict:
        return {
            "id": self.id, "object": "subscription", "customer_id": self.customer_id, "product_id": self.product_id,
            "quantity": self.quantity, "status": self.status(now_us), "start": iso_us(self.start_at),
            "billing_anchor": iso_us(self.anchor_at),
            "billing_period": {"interval": self.cycle.unit, "count": self.cycle.count},
            "cancel_at_period_end": self.cancel_at_period_end,
            "ends_at": None if self.ends_at is None else iso_us(self.ends_at),
            "plan_history": [{"product_id": pid, "quantity": q, "effective_at": iso_us(eff)}
                             for eff, pid, q in self.segments],
            "thresholds": self.thresholds, "grace_period_hours": self.grace_period_hours,
            "metadata": self.metadata, "environment": self.environment,
            "created_at": iso_us(self.created_at), "updated_at": iso_us(self.updated_at),
        }

    def status(self, now_us: int) -> str:
        """``cancelled`` once ``ends_at`` has passed, else ``active``."""
        return "cancelled" if self.ends_at is not None and now_us >= self.ends_at else "active"

    @property
    def start(self) -> datetime:
        return from_us(self.start_at)

    @property
    def anchor(self) -> datetime:
        return from_us(self.anchor_at)

    @property
    def ends(self) -> datetime | None:
        return None if self.ends_at is None else from_us(self.ends_at)


def subscription_from_row(row, segments: list[tuple]) -> Subscription:
    """A subscriptions row plus its plan history ``[(effective_at, product_id, quantity), …]``."""
    return Subscription(
        row.id, row.environment, row.customer_id, row.product_id, row.quantity, Cycle(row.interval, row.interval_count),
        row.start_at, row.anchor_at, bool(row.cancel_at_period_end), row.ends_at, orjson.loads(row.thresholds),
        orjson.loads(row.billing), orjson.loads(row.metadata), row.created_at, row.updated_at, segments,
        row.grace_period_hours,
    )


def _subscription(conn, row) -> Subscription:
    segs = conn.execute(
        select(tg.c.effective_at, tg.c.product_id, tg.c.quantity).where(tg.c.subscription_id == row.id)
        .order_by(tg.c.effective_at)
    ).all()
    return subscription_from_row(row, [tuple(s) for s in segs])


def insert_subscription(conn, environment: str, data: dict, now_us: int) -> Subscription:
    sid = new_id("sub")
    conn.execute(ts.insert().values(
        id=sid, environment=environment, customer_id=data["customer_id"], product_id=data["product_id"],
        quantity=data["quantity"], interval=data["cycle"].unit, interval_count=data["cycle"].count,
        start_at=data["start_at"], anchor_at=data["anchor_at"], cancel_at_period_end=False, ends_at=None,
        thresholds=orjson.dumps(data.get("thresholds") or []).decode(), billing=_json(data.get("billing")),
        metadata=_json(data.get("metadata")), created_at=now_us, updated_at=now_us,
        grace_period_hours=data.get("grace_period_hours"),
    ))
    conn.execute(tg.insert().values(subscription_id=sid, effective_at=data["start_at"], product_id=data["product_id"],
                                    quantity=data["quantity"]))
    return get_subscription(conn, environment, sid)


def get_subscription(conn, environment: str, subscription_id: str) -> Subscription:
    row = conn.execute(select(ts).where(ts.c.environment == environment, ts.c.id == subscription_id)).first()
    if row is None:
        raise NotFound(f"subscription {subscription_id!r} not found", "subscription_id")
    return _subscription(conn, row)


def list_subscriptions(conn, environment: str | None, limit: int = 100, offset: int = 0, customer_id: str | None = None,
                       product_id: str | None = None) -> list[Subscription]:
    q = select(ts)
    if environment is not None:
        q = q.where(ts.c.environment == environment)
    if customer_id:
        q = q.where(ts.c.customer_id == customer_id)
    if product_id:
        q = q.where(ts.c.product_id == product_id)
    q = q.order_by(ts.c.created_at.desc(), ts.c.id).offset(offset).limit(limit)
    return [_subscription(conn, r) for r in conn.execute(q).all()]


def add_segment(conn, sub: Subscription, effective_at: int, product_id: str, quantity: int, now_us: int) -> None:
    """Switch plan from ``effective_at`` on (later segments, if any, are superseded)."""
    conn.execute(tg.delete().where(tg.c.subscription_id == sub.id, tg.c.effective_at >= effective_at))
    conn.execute(tg.insert().values(subscription_id=sub.id, effective_at=effective_at, product_id=product_id,
                                    quantity=quantity))
    conn.execute(update(ts).where(ts.c.id == sub.id).values(product_id=product_id, quantity=quantity, updated_at=now_us))


def lock_subscriptions(conn, ids) -> None:
    """Serialise writers of these subscriptions until the transaction ends: plan changes against the
    transactions that price and write their invoices. PostgreSQL: ``SELECT … FOR UPDATE`` in id order
    (one lock order, no deadlocks); SQLite's write transactions are serialised already."""
    ids = sorted(set(ids))
    if ids:
        dialect.lock_rows(conn, select(ts.c.id).where(ts.c.id.in_(ids)).order_by(ts.c.id))


def plan_histories(conn, ids) -> dict[str, list[tuple[int, str, int]]]:
    """``subscription id -> [(effective_at, product_id, quantity), …]`` as stored now, one query."""
    out: dict[str, list] = defaultdict(list)
    ids = sorted(set(ids))
    if ids:
        q = select(tg.c.subscription_id, tg.c.effective_at, tg.c.product_id, tg.c.quantity).where(
            tg.c.subscription_id.in_(ids)).order_by(tg.c.subscription_id, tg.c.effective_at)
        for sid, eff, pid, qty in conn.execute(q):
            out[sid].append((eff, pid, qty))
    return out


def set_cancel(conn, sub: Subscription, cancel: bool, ends_at: int | None, now_us: int) -> None:
    conn.execute(update(ts).where(ts.c.id == sub.id).values(cancel_at_period_end=cancel, ends_at=ends_at,
                                                            updated_at=now_us))


def record_threshold_hit(conn, subscription_id: str, period_start: int, threshold: str, now_us: int) -> bool:
    """Remember that ``threshold`` was reached in the period; False when it already was."""
    stmt = upsert.insert(conn, th).values(subscription_id=subscription_id, period_start=period_start,
                                          threshold=threshold, hit_at=now_us).on_conflict_do_nothing()
    return upsert.inserted(conn, stmt, th.c.threshold)


# -- the invoice run's reads ----------------------------------------------------------------------
@contextmanager
def snapshot(store) -> Iterator:
    """A read transaction whose queries all see one state of the database (SQLite's WAL reads
    already do; PostgreSQL needs ``REPEATABLE READ`` for that)."""
    options = dialect.snapshot_options(store.read_engine)
    if options is None:
        with store.read() as conn:
            yield conn
        return
    with store.read_engine.connect() as conn:
        conn.execution_options(**options)
        with conn.begin():
            yield conn


def load_subscriptions(conn, environment: str | None, customer_ids: list[str] | None = None) -> list[Subscription]:
    """Every subscription of ``environment`` (None: all; ``customer_ids``: only theirs) with its plan
    history, in two queries, ordered like ``list_subscriptions``."""
    q = select(ts)
    segs = select(tg.c.subscription_id, tg.c.effective_at, tg.c.product_id, tg.c.quantity)
    if environment is not None or customer_ids is not None:
        segs = segs.join(ts, ts.c.id == tg.c.subscription_id)
    if environment is not None:
        q = q.where(ts.c.environment == environment)
        segs = segs.where(ts.c.environment == environment)
    if customer_ids is not None:
        q = q.where(ts.c.customer_id.in_(sorted(set(customer_ids))))
        segs = segs.where(ts.c.customer_id.in_(sorted(set(customer_ids))))
    history: dict[str, list] = defaultdict(list)
    for sid, eff, pid, qty in conn.execute(segs.order_by(tg.c.subscription_id, tg.c.effective_at)):
        history[sid].append((eff, pid, qty))
    return [
        subscription_from_row(row, history.get(row.id, []))
        for row in conn.execute(q.order_by(ts.c.created_at.desc(), ts.c.id))
    ]
