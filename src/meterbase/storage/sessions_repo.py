"""Live-session persistence (``live_sessions``): every function runs inside the caller's transaction.

The state changes that must happen once are conditional UPDATEs whose ``rowcount`` says who won:

* :func:`claim_stop` — ``running -> stopping`` (``WHERE status = 'running'``, and for the reaper also
  ``last_seen_at < cutoff`` so a heartbeat that arrived since the candidate was read keeps the session
  alive). It fixes the end instant, the billable seconds and the amount: whoever meters later uses them.
* :func:`finish_stop` — ``stopping -> stopped`` with what was charged.

On PostgreSQL (READ COMMITTED) a second UPDATE of the same row waits for the first to commit and then
re-checks its WHERE against the new row, so it matches nothing; psycopg's ``rowcount`` is exact for
UPDATE (unlike INSERT ... ON CONFLICT DO NOTHING, where :func:`.upsert.inserted` decides). On SQLite the
write transaction is ``BEGIN IMMEDIATE``: writers are serialised across threads and processes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal

from sqlalchemy import and_, case, literal, or_, select, update

from .schema import live_sessions as ls
from .upsert import insert, inserted

RUNNING, STOPPING, STOPPED = "running", "stopping", "stopped"


@dataclass(frozen=True)
class SessionRow:
    environment: str
    session_id: str
    customer_id: str
    entitlement: str
    access_entitlement: str | None
    description: str | None
    status: str
    started_at: int
    last_seen_at: int
    heartbeats: int
    stop_reason: str | None
    claimed_at: int | None
    ended_at: int | None
    seconds: int | None
    amount: str | None
    capped_amount: str | None
    charged: Decimal | None
    outcome_reason: str | None
    event_id: str | None
    metered_at: int | None
    created_at: int
    updated_at: int


_COLS = tuple(ls.c[f.name] for f in fields(SessionRow))


def _row(r) -> SessionRow:
    return SessionRow(*r)


def _key(environment: str, session_id: str):
    return and_(ls.c.environment == environment, ls.c.session_id == session_id)


def get(conn, environment: str, session_id: str) -> SessionRow | None:
    r = conn.execute(select(*_COLS).where(_key(environment, session_id))).first()
    return _row(r) if r else None


def insert_session(
    conn, environment: str, session_id: str, customer_id: str, entitlement: str,
    access_entitlement: str | None, description: str | None, now_us: int,
) -> bool:
    """Create a running session; False when the id already exists (nothing changes)."""
    stmt = (
        insert(conn, ls)
        .values(
            environment=environment, session_id=session_id, customer_id=customer_id, entitlement=entitlement,
            access_entitlement=access_entitlement, description=description, status=RUNNING,
            started_at=now_us, last_seen_at=now_us, heartbeats=0, created_at=now_us, updated_at=now_us,
        )
        .on_conflict_do_nothing(index_elements=["environment", "session_id"])
    )
    return inserted(conn, stmt, ls.c.session_id)


def heartbeat(conn, environment: str, session_id: str, now_us: int) -> bool:
    """Record a heartbeat of a running session (``last_seen_at`` never moves back). False: not running."""
    result = conn.execute(
        update(ls)
        .where(_key(environment, session_id), ls.c.status == RUNNING)
        .values(
            last_seen_at=_greatest(conn, ls.c.last_seen_at, now_us),
            heartbeats=ls.c.heartbeats + 1,
            updated_at=now_us,
        )
    )
    return result.rowcount == 1


def _greatest(conn, column, value: int):
    return case((column > literal(value), column), else_=literal(value))


def claim_stop(
    conn, environment: str, session_id: str, *, reason: str, ended_at: int, seconds: int, amount: str,
    now_us: int, idle_before: int | None = None, last_seen_at: int | None = None,
) -> bool:
    """``running -> stopping`` with the duration fixed. True for exactly one caller.

    The reaper passes ``idle_before`` (the last heartbeat must still be older than this instant) and
    ``last_seen_at`` (as it read it: the duration was computed from it), so a heartbeat that arrives
    between reading the candidate and claiming it keeps the session running.
    """
    conds = [_key(environment, session_id), ls.c.status == RUNNING]
    if idle_before is not None:
        conds.append(ls.c.last_seen_at < idle_before)
    if last_seen_at is not None:
        conds.append(ls.c.last_seen_at == last_seen_at)
    result = conn.execute(
        update(ls).where(*conds).values(
            status=STOPPING, stop_reason=reason, claimed_at=now_us, ended_at=ended_at, seconds=seconds,
            amount=amount, updated_at=now_us,
        )
    )
    return result.rowcount == 1


def set_capped_amount(conn, environment: str, session_id: str, amount: str, now_us: int) -> None:
    """Fix the capped amount once (the first writer wins; later callers re-read it)."""
    conn.execute(
        update(ls)
        .where(_key(environment, session_id), ls.c.status == STOPPING, ls.c.capped_amount.is_(None))
        .values(capped_amount=amount, updated_at=now_us)
    )


def finish_stop(
    conn, environment: str, session_id: str, *, charged: Decimal, outcome_reason: str | None,
    event_id: str | None, now_us: int,
) -> bool:
    """``stopping -> stopped`` with what was metered. True for exactly one caller."""
    result = conn.execute(
        update(ls)
        .where(_key(environment, session_id), ls.c.status == STOPPING)
        .values(status=STOPPED, charged=charged, outcome_reason=outcome_reason, event_id=event_id,
                metered_at=now_us, updated_at=now_us)
    )
    return result.rowcount == 1


def idle_running(conn, environment: str, before: int, limit: int) -> list[SessionRow]:
    """Running sessions whose last heartbeat (or start) is older than ``before``, oldest first."""
    q = (
        select(*_COLS)
        .where(ls.c.environment == environment, ls.c.status == RUNNING, ls.c.last_seen_at < before)
        .order_by(ls.c.last_seen_at, ls.c.session_id)
        .limit(limit)
    )
    return [_row(r) for r in conn.execute(q)]


def stuck_stopping(conn, environment: str, claimed_before: int, limit: int) -> list[SessionRow]:
    """Sessions claimed for stopping before ``claimed_before`` but never metered (the stopper died)."""
    q = (
        select(*_COLS)
        .where(ls.c.environment == environment, ls.c.status == STOPPING, ls.c.claimed_at < claimed_before)
        .order_by(ls.c.claimed_at, ls.c.session_id)
        .limit(limit)
    )
    return [_row(r) for r in conn.execute(q)]


def list_sessions(
    conn, environment: str, *, customer_id: str | None = None, status: str | None = None, limit: int = 100
) -> list[SessionRow]:
    """Newest first."""
    q = select(*_COLS).where(ls.c.environment == environment)
    if customer_id is not None:
        q = q.where(ls.c.customer_id == customer_id)
    if status is not None:
        q = q.where(ls.c.status == status)
    q = q.order_by(ls.c.started_at.desc(), ls.c.session_id.desc()).limit(limit)
    return [_row(r) for r in conn.execute(q)]


def environments_with_work(conn) -> list[str]:
    """Environments that have running or stopping sessions (what a reaper has to look at)."""
    q = select(ls.c.environment).distinct().where(or_(ls.c.status == RUNNING, ls.c.status == STOPPING))
    return sorted(e for (e,) in conn.execute(q))
