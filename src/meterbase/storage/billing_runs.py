"""Invoice runs and the periods they skipped ("needs attention" until a later run prices them).

``record_run`` writes a run's row and its skipped items together; ``resolve`` marks the open skips of
periods that were priced since. A period is *open* (needs attention) while it has a skip whose
``resolved_at`` is NULL; ``open_skips`` lists the newest open skip of each period.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import bindparam, func, select, update

from ..errors import NotFound
from ..timeutil import iso_us
from .schema_invoicing import billing_run_skips as tk
from .schema_invoicing import billing_runs as tr

INVOICE, ADJUSTMENT = "invoice", "adjustment"  # what was skipped: the period's invoice, or its late usage


@dataclass(frozen=True)
class Skip:
    """A period a run could not price, and why (``pricing.quantity.UnbillableQuantity``)."""

    environment: str
    subscription_id: str
    customer_id: str
    period_start: int
    period_end: int
    kind: str  # INVOICE | ADJUSTMENT
    meter_id: str | None
    value: str | None
    reason: str
    message: str
    run_id: str | None = None
    created_at: int | None = None
    resolved_at: int | None = None

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.subscription_id, self.period_start, self.kind)

    def to_dict(self) -> dict:
        return {
            "object": "skipped_period", "run_id": self.run_id, "environment": self.environment,
            "subscription_id": self.subscription_id, "customer_id": self.customer_id,
            "period_start": iso_us(self.period_start), "period_end": iso_us(self.period_end), "kind": self.kind,
            "meter_id": self.meter_id, "value": self.value, "reason": self.reason, "message": self.message,
            "created_at": None if self.created_at is None else iso_us(self.created_at),
            "resolved_at": None if self.resolved_at is None else iso_us(self.resolved_at),
        }


@dataclass
class Run:
    id: str
    environment: str
    until: int
    finalize: str
    lookback_days: int
    started_at: int
    finished_at: int
    created: int
    existing: int
    finalized: int
    skipped: int
    adjustments: int
    actor: str
    skips: list[Skip] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "id": self.id, "object": "invoice_run", "environment": self.environment, "until": iso_us(self.until),
            "finalize": self.finalize, "lookback_days": self.lookback_days,
            "started_at": iso_us(self.started_at), "finished_at": iso_us(self.finished_at),
            "created": self.created, "existing": self.existing, "finalized": self.finalized,
            "skipped": self.skipped, "adjustments": self.adjustments, "actor": self.actor,
            "skipped_periods": [s.to_dict() for s in self.skips],
        }


def _skip(r) -> Skip:
    return Skip(r.environment, r.subscription_id, r.customer_id, r.period_start, r.period_end, r.kind, r.meter_id,
                r.value, r.reason, r.message, r.run_id, r.created_at, r.resolved_at)


def _run(r) -> Run:
    return Run(r.id, r.environment, r.until, r.finalize, r.lookback_days, r.started_at, r.finished_at, r.created,
               r.existing, r.finalized, r.skipped, r.adjustments, r.actor)


def record_run(conn, run: Run) -> None:
    """Store a finished run and its skipped periods (two statements)."""
    row = {k: v for k, v in run.__dict__.items() if k != "skips"}
    conn.execute(tr.insert().values(**row))
    if run.skips:
        conn.execute(tk.insert(), [dict(run_id=run.id, environment=s.environment, subscription_id=s.subscription_id,
                                        customer_id=s.customer_id, period_start=s.period_start,
                                        period_end=s.period_end, kind=s.kind, meter_id=s.meter_id, value=s.value,
                                        reason=s.reason, message=s.message, created_at=run.finished_at,
                                        resolved_at=None) for s in run.skips])


def open_keys(conn, environment: str) -> set[tuple[str, int, str]]:
    """``(subscription_id, period_start, kind)`` of every period that needs attention."""
    q = select(tk.c.subscription_id, tk.c.period_start, tk.c.kind).where(
        tk.c.environment == environment, tk.c.resolved_at.is_(None)).distinct()
    return {tuple(r) for r in conn.execute(q)}


def resolve(conn, keys, now_us: int) -> None:
    """These periods were priced: their open skips need no attention any more (one statement)."""
    keys = sorted(set(keys))
    if keys:
        conn.execute(update(tk).where(tk.c.subscription_id == bindparam("sid"), tk.c.period_start == bindparam("ps"),
                                      tk.c.kind == bindparam("k"), tk.c.resolved_at.is_(None))
                     .values(resolved_at=now_us), [{"sid": s, "ps": p, "k": k} for s, p, k in keys])


def open_skips(conn, environment: str, customer_id: str | None = None, limit: int = 100,
               offset: int = 0) -> list[Skip]:
    """The newest open skip of every period that needs attention, newest first."""
    latest = (select(tk.c.subscription_id, tk.c.period_start, tk.c.kind, func.max(tk.c.created_at).label("at"))
              .where(tk.c.environment == environment, tk.c.resolved_at.is_(None))
              .group_by(tk.c.subscription_id, tk.c.period_start, tk.c.kind))
    if customer_id:
        latest = latest.where(tk.c.customer_id == customer_id)
    latest = latest.subquery()
    q = (select(tk).join(latest, (tk.c.subscription_id == latest.c.subscription_id)
                         & (tk.c.period_start == latest.c.period_start) & (tk.c.kind == latest.c.kind)
                         & (tk.c.created_at == latest.c.at))
         .where(tk.c.resolved_at.is_(None))
         .order_by(tk.c.created_at.desc(), tk.c.subscription_id, tk.c.period_start).offset(offset).limit(limit))
    seen, out = set(), []
    for r in conn.execute(q):
        s = _skip(r)
        if s.key not in seen:  # two runs in the same microsecond: one row per period
            seen.add(s.key)
            out.append(s)
    return out


def last_started(conn, environment: str) -> int | None:
    """When the latest run of ``environment`` started (µs), if any."""
    return conn.execute(select(func.max(tr.c.started_at)).where(tr.c.environment == environment)).scalar()


def list_runs(conn, environment: str, limit: int = 20, offset: int = 0) -> list[Run]:
    q = (select(tr).where(tr.c.environment == environment).order_by(tr.c.started_at.desc(), tr.c.id)
         .offset(offset).limit(limit))
    return [_run(r) for r in conn.execute(q)]


def get_run(conn, environment: str, run_id: str) -> Run:
    row = conn.execute(select(tr).where(tr.c.environment == environment, tr.c.id == run_id)).first()
    if row is None:
        raise NotFound(f"invoice run {run_id!r} not found", "run_id")
    run = _run(row)
    run.skips = [_skip(r) for r in conn.execute(select(tk).where(tk.c.run_id == run_id)
                                                .order_by(tk.c.customer_id, tk.c.subscription_id, tk.c.period_start))]
    return run
