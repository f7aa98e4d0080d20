"""The audit log: who changed which key or configuration, when.

Writers call :func:`record` on the connection of the change, so the entry commits (or rolls back)
with it. The *actor* is whoever the current request or command acts for: the API resolves it from
the bearer key (``key_…``), the CLI sets ``cli:<user>``; anything else is ``system``. It travels in
a context variable, so code several layers below the API (billing, policy) need not pass it along.
"""

from __future__ import annotations

import getpass
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

import orjson
from sqlalchemy import select

from ..ids import new_id
from .schema import audit_log as t

SYSTEM = "system"

_actor: ContextVar[str] = ContextVar("meterbase_audit_actor", default=SYSTEM)

#: Actions written by meterbase (for documentation and the CLI's --action help).
ACTIONS = (
    "api_key.created", "api_key.revoked", "portal_token.created", "portal_token.revoked",
    "meter.created", "meter.updated", "meter.archived", "meter.unarchived",
    "policy.replaced", "product.created", "subscription.created", "webhook_endpoint.created",
    "customer.created", "invoice.finalized", "invoice.voided", "invoices.run",
)


def current_actor() -> str:
    return _actor.get()


def set_actor(actor: str) -> None:
    """Act as ``actor`` for the rest of the current context (a request, a CLI command)."""
    _actor.set(actor)


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in this environment
        return "cli"


def record(conn, environment: str, actor: str | None, action: str, target: str, details: dict | None = None,
           now_us: int | None = None) -> str:
    """Append one entry inside the caller's transaction; returns its id. ``actor=None``: the current actor."""
    entry_id = new_id("aud")
    conn.execute(t.insert().values(
        id=entry_id,
        environment=environment,
        at=int(time.time() * 1_000_000) if now_us is None else now_us,
        actor=(actor or current_actor())[:255],
        action=action,
        target=str(target)[:255],
        details=orjson.dumps(details or {}, default=str).decode(),
    ))
    return entry_id


def _entry(row) -> dict[str, Any]:
    return {"id": row.id, "seq": row.seq, "environment": row.environment, "at": row.at, "actor": row.actor,
            "action": row.action, "target": row.target, "details": orjson.loads(row.details)}


def list_entries(conn, environment: str, *, limit: int = 100, before_seq: int | None = None,
                 action: str | None = None, target: str | None = None, actor: str | None = None) -> list[dict]:
    """Entries of ``environment``, newest first; ``before_seq`` pages backwards."""
    q = select(t).where(t.c.environment == environment)
    if before_seq is not None:
        q = q.where(t.c.seq < before_seq)
    if action:
        q = q.where(t.c.action == action)
    if target:
        q = q.where(t.c.target == target)
    if actor:
        q = q.where(t.c.actor == actor)
    return [_entry(r) for r in conn.execute(q.order_by(t.c.seq.desc()).limit(limit))]
