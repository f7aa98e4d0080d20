"""Durable live sessions (seed 004, "meter at stop"): start / heartbeat / stop / reap / display.

:class:`SessionService` keeps sessions in the Store's database (``live_sessions``), not in memory, so any
process (API worker, CLI reaper, cron) sees the same sessions and a restart loses nothing.

* **start** — ensures the customer (as the seed's ``startSession``), then the pre-start check of
  :func:`.core.start_rule`: ``NO_ACCESS`` / ``QUOTA_EXHAUSTED`` come back as a refused :class:`StartResult`
  (nothing is stored). Starting a running session again with the same customer and entitlement is an
  idempotent retry (``replayed``); reusing an id otherwise is a ``Conflict``.
* **heartbeat** — moves ``last_seen_at``; refused with ``session_not_running`` (409) once the session has
  been stopped or reaped, so the client learns its machine must stop.
* **stop** — two steps. (1) *Claim*: one conditional UPDATE ``running -> stopping`` fixes the end instant,
  the billable seconds (ceil) and the ``allow()`` amount; exactly one stopper or reaper wins it.
  (2) *Meter*: ``PolicyService.allow(customer, entitlement, amount, idempotency_key="session:<id>")``, then
  ``stopping -> stopped`` with what was charged. Anyone may run step 2 for a ``stopping`` session — the
  loser of a stop/reap race, a second ``stop()``, the reaper recovering a stopper that died between the
  two steps — because the idempotency key makes every repeat a replay of the first decision. So a session
  is metered exactly once, whatever races or crashes.
* **Hard limit outrun** — metering happens at the end, so a session may have run longer than what was left
  on a hard limit; ``allow()`` then refuses the full duration (the policy's ``limit-reached`` event fires)
  and the session is charged what was left instead (fixed once, key ``session:<id>:capped``,
  ``outcome_reason = 'capped_at_limit'``). A soft limit consumes the full duration and reports overage.
* **reap** — stops running sessions without a heartbeat for more than ``max_idle_seconds`` (claim condition
  re-checks it, so a heartbeat that arrives first wins), charging up to ``charge_until`` (see
  :mod:`.core`; default ``now``, the seed's full elapsed duration), and finishes ``stopping`` sessions
  whose stopper died more than ``recover_after`` seconds ago. Safe to run from several processes at once.
* **display** — the seed's ``getComputeDisplay``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable

from ..errors import Conflict, NotFound, ValidationError
from ..events.model import MAX_ID_LEN
from ..events.values import decimal_text
from ..ids import new_id
from ..credits.covering import LedgerCovering
from ..policy.service import PolicyService
from ..units import TIME, UNITS
from ..storage import sessions_repo as repo
from ..storage.store import Store
from ..timeutil import US_PER_SECOND, Clock, to_us
from .core import (
    CHARGE_UNTIL, DEFAULT_ACCESS, DEFAULT_ENTITLEMENT, REAPED, RUNNING, STOPPED, STOPPED_BY_CLIENT, STOPPING,
    ZERO, Display, Session, billable_seconds, charge_end, compute_display, duration_amount, idle_cutoff,
    start_rule,
)

log = logging.getLogger("meterbase.sessions")

CAPPED = "capped_at_limit"


class SessionNotRunning(Conflict):
    code = "session_not_running"


def idempotency_key(session_id: str) -> str:
    """The ``allow()`` key a session is metered under."""
    return f"session:{session_id}"


def _require_id(value, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name} is required and must be a non-empty string", name)
    if len(value) > MAX_ID_LEN:
        raise ValidationError(f"{name} is longer than {MAX_ID_LEN} characters", name)
    return value


def _text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


# ---------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class StartResult:
    """Truthy when the session runs. ``code``: None, ``NO_ACCESS`` or ``QUOTA_EXHAUSTED``."""

    ok: bool
    session_id: str
    code: str | None = None
    message: str | None = None
    remaining: Decimal | None = None  # what is left this period, credit units (None: no limit)
    session: Session | None = None
    replayed: bool = False  # the session was already running (a retried start)

    def __bool__(self) -> bool:
        return self.ok

    def to_dict(self, now_us: int | None = None) -> dict:
        return {
            "ok": self.ok, "session_id": self.session_id, "code": self.code, "message": self.message,
            "remaining": _text(self.remaining), "replayed": self.replayed,
            "session": None if self.session is None else self.session.to_dict(now_us),
        }


@dataclass(frozen=True)
class StopResult:
    """A stopped session. ``replayed``: it had already been stopped (or claimed) by another call."""

    session: Session
    replayed: bool
    remaining: Decimal | None = None

    @property
    def duration_seconds(self) -> int:
        return self.session.seconds or 0

    @property
    def charged(self) -> Decimal:
        return self.session.charged if self.session.charged is not None else ZERO

    def to_dict(self) -> dict:
        return {
            "ok": True, "session_id": self.session.session_id, "duration_seconds": self.duration_seconds,
            "charged": _text(self.charged), "outcome_reason": self.session.outcome_reason,
            "remaining": _text(self.remaining), "replayed": self.replayed, "session": self.session.to_dict(),
        }


@dataclass
class ReapResult:
    environment: str
    reaped: list[Session] = field(default_factory=list)  # claimed and metered by this call
    recovered: list[Session] = field(default_factory=list)  # stuck in 'stopping', finished by this call
    skipped: list[str] = field(default_factory=list)  # another stopper/reaper won, or a heartbeat arrived
    errors: list[tuple[str, str]] = field(default_factory=list)  # (session_id, error); retried next run

    def to_dict(self) -> dict:
        return {
            "environment": self.environment,
            "reaped": [s.to_dict() for s in self.reaped],
            "recovered": [s.to_dict() for s in self.recovered],
            "skipped": list(self.skipped),
            "errors": [{"session_id": sid, "error": err} for sid, err in self.errors],
        }


# ---------------------------------------------------------------------------------------------- service


class SessionService:
    """Live sessions of ``policy_service``'s environment, metered through it."""

    def __init__(self, store: Store, policy_service: PolicyService, clock: Clock | None = None):
        self.store = store
        self.policy = policy_service
        self.environment = policy_service.environment
        self.clock: Clock = clock or policy_service.clock

    def now_us(self) -> int:
        return to_us(self.clock())

    # -- reads ----------------------------------------------------------------------------------
    def get(self, session_id: str) -> Session | None:
        with self.store.read() as conn:
            row = repo.get(conn, self.environment, session_id)
        return None if row is None else Session.from_row(row)

    def require(self, session_id: str) -> Session:
        s = self.get(session_id)
        if s is None:
            raise NotFound(f"unknown session {session_id!r}", "session_id")
        return s

    def list(self, customer_id: str | None = None, status: str | None = None, limit: int = 100) -> list[Session]:
        """Newest first."""
        with self.store.read() as conn:
            rows = repo.list_sessions(conn, self.environment, customer_id=customer_id, status=status, limit=limit)
        return [Session.from_row(r) for r in rows]

    def _unit_seconds(self, customer_id: str, entitlement: str) -> Decimal | None:
        """Size in seconds of the entitlement's credit unit; None when it does not count time."""
        try:
            ent = self.policy.entitlement(customer_id, entitlement)
        except NotFound:
            return None
        units = ent.limit.credit.stof_units if ent is not None and ent.limit is not None else None
        if units is None:
            return None
        dimension, size = UNITS[units]
        return size if dimension == TIME else None

    # -- start ----------------------------------------------------------------------------------
    def start(
        self,
        customer_id: str,
        session_id: str | None = None,
        entitlement: str = DEFAULT_ENTITLEMENT,
        access_entitlement: str | None = DEFAULT_ACCESS,
        *,
        plan: str | None = None,
        description: str | None = None,
        allow_overage: bool = False,
    ) -> StartResult:
        """Pre-start check, then a running session (see the module docstring). ``session_id`` None: generated."""
        _require_id(customer_id, "customer_id")
        session_id = new_id("ses") if session_id is None else _require_id(session_id, "session_id")
        _require_id(entitlement, "entitlement")
        if access_entitlement is not None:
            _require_id(access_entitlement, "access_entitlement")
        if description is not None and not isinstance(description, str):
            raise ValidationError("description must be a string", "description")

        existing = self.get(session_id)
        if existing is not None:
            return self._restart(existing, customer_id, entitlement)
        self.policy.ensure_customer(customer_id, plan)
        granted = access_entitlement is None or bool(self.policy.check(customer_id, access_entitlement))
        status = self.policy.status(customer_id, entitlement)
        rule = start_rule(
            access=access_entitlement, access_granted=granted, entitlement=entitlement, included=status.included,
            remaining=status.remaining, mode=status.mode, allow_overage=allow_overage,
        )
        if rule.code is not None:
            return StartResult(False, session_id, rule.code, rule.message, status.remaining)
        now = self.now_us()
        with self.store.write() as conn:
            created = repo.insert_session(conn, self.environment, session_id, customer_id, entitlement,
                                          access_entitlement, description, now)
            row = repo.get(conn, self.environment, session_id)
        if not created:  # a concurrent start of the same id won
            return self._restart(Session.from_row(row), customer_id, entitlement)
        return StartResult(True, session_id, remaining=status.remaining, session=Session.from_row(row))

    def _restart(self, s: Session, customer_id: str, entitlement: str) -> StartResult:
        if (s.customer_id, s.entitlement) != (customer_id, entitlement):
            raise Conflict(f"session {s.session_id!r} belongs to another customer or entitlement", "session_id")
        if s.status != RUNNING:
            raise SessionNotRunning(f"session {s.session_id!r} has already ended; session ids are not reused", "session_id")
        return StartResult(True, s.session_id, remaining=self.policy.remaining(customer_id, entitlement),
                           session=s, replayed=True)

    # -- heartbeat ------------------------------------------------------------------------------
    def heartbeat(self, session_id: str) -> Session:
        """Keep a running session alive; ``SessionNotRunning`` (409) once it was stopped or reaped."""
        _require_id(session_id, "session_id")
        now = self.now_us()
        with self.store.write() as conn:
            alive = repo.heartbeat(conn, self.environment, session_id, now)
            row = repo.get(conn, self.environment, session_id)
        if row is None:
            raise NotFound(f"unknown session {session_id!r}", "session_id")
        if not alive:
            how = "reaped (no heartbeat)" if row.stop_reason == REAPED else "stopped"
            raise SessionNotRunning(f"session {session_id!r} was {how}; start a new session", "session_id")
        return Session.from_row(row)

    # -- stop -----------------------------------------------------------------------------------
    def stop(self, session_id: str) -> StopResult:
        """Stop and meter ``ceil(now - started_at)`` seconds, exactly once however often it is called."""
        s = self.require(_require_id(session_id, "session_id"))
        claimed = False
        if s.status == RUNNING:
            now = self.now_us()
            end = max(now, s.started_at)
            seconds = billable_seconds(s.started_at, end)
            amount = duration_amount(seconds, self._unit_seconds(s.customer_id, s.entitlement))
            with self.store.write() as conn:
                claimed = repo.claim_stop(conn, self.environment, session_id, reason=STOPPED_BY_CLIENT, ended_at=end,
                                          seconds=seconds, amount=amount, now_us=now)
        done = self._finish(session_id)
        return StopResult(done, replayed=not claimed, remaining=self.policy.remaining(done.customer_id, done.entitlement))

    def _finish(self, session_id: str) -> Session:
        """Meter a ``stopping`` session (idempotent: any number of callers, concurrently or later)."""
        with self.store.read() as conn:
            row = repo.get(conn, self.environment, session_id)
        if row is None:
            raise NotFound(f"unknown session {session_id!r}", "session_id")
        if row.status != STOPPING:
            return Session.from_row(row)
        key = idempotency_key(session_id)
        charged, reason, event_id = ZERO, "ok", None
        if row.seconds:
            outcome = self.policy.allow(row.customer_id, row.entitlement, row.amount, idempotency_key=key)
            charged, reason, event_id = outcome.consumed, outcome.reason, outcome.event_id
            if not outcome.allowed and outcome.reason == "limit_exceeded" and outcome.mode == "hard":
                capped = self._capped_amount(row)
                if capped > 0:
                    part = self.policy.allow(row.customer_id, row.entitlement, decimal_text(capped),
                                             idempotency_key=key + ":capped")
                    if part.allowed:
                        charged, reason, event_id = part.consumed, CAPPED, part.event_id
        now = self.now_us()
        with self.store.write() as conn:
            repo.finish_stop(conn, self.environment, session_id, charged=charged, outcome_reason=reason,
                             event_id=event_id, now_us=now)
            row = repo.get(conn, self.environment, session_id)
        return Session.from_row(row)

    def _capped_amount(self, row: repo.SessionRow) -> Decimal:
        """What was left on the hard limit, fixed on the session the first time (replays reuse it)."""
        if row.capped_amount is None:
            left = self.policy.remaining(row.customer_id, row.entitlement) or ZERO
            with self.store.write() as conn:
                repo.set_capped_amount(conn, self.environment, row.session_id, decimal_text(left), self.now_us())
                row = repo.get(conn, self.environment, row.session_id)
        return Decimal(row.capped_amount) if row.capped_amount is not None else ZERO

    # -- reaper ---------------------------------------------------------------------------------
    def reap(
        self, max_idle_seconds: float = 1800, *, charge_until: str = "now", limit: int = 1000,
        recover_after: float = 60,
    ) -> ReapResult:
        """Stop and meter sessions without a heartbeat for more than ``max_idle_seconds`` (see the module doc)."""
        if charge_until not in CHARGE_UNTIL:
            raise ValidationError(f"charge_until must be one of {', '.join(CHARGE_UNTIL)}", "charge_until")
        if max_idle_seconds < 0 or recover_after < 0:
            raise ValidationError("max_idle_seconds and recover_after must not be negative", "max_idle_seconds")
        now = self.now_us()
        cutoff = idle_cutoff(now, max_idle_seconds)
        result = ReapResult(self.environment)
        with self.store.read() as conn:
            idle = repo.idle_running(conn, self.environment, cutoff, limit)
            stuck = repo.stuck_stopping(conn, self.environment, now - round(recover_after * US_PER_SECOND), limit)
        for row in idle:
            try:
                end = charge_end(row.started_at, row.last_seen_at, now, max_idle_seconds, charge_until)
                seconds = billable_seconds(row.started_at, end)
                amount = duration_amount(seconds, self._unit_seconds(row.customer_id, row.entitlement))
                with self.store.write() as conn:
                    claimed = repo.claim_stop(
                        conn, self.environment, row.session_id, reason=REAPED, ended_at=end, seconds=seconds,
                        amount=amount, now_us=now, idle_before=cutoff, last_seen_at=row.last_seen_at,
                    )
                if not claimed:
                    result.skipped.append(row.session_id)
                    continue
                log.warning("reaping abandoned session %s of %s after %ss without heartbeat (%ss charged)",
                            row.session_id, row.customer_id, (now - row.last_seen_at) // US_PER_SECOND, seconds)
                result.reaped.append(self._finish(row.session_id))
            except Exception as exc:  # noqa: BLE001 - one bad session must not stop the reaper
                log.exception("reaping session %s failed", row.session_id)
                result.errors.append((row.session_id, str(exc)))
        for row in stuck:
            try:
                done = self._finish(row.session_id)
                if done.status == STOPPED:
                    result.recovered.append(done)
            except Exception as exc:  # noqa: BLE001
                log.exception("finishing stuck session %s failed", row.session_id)
                result.errors.append((row.session_id, str(exc)))
        return result

    # -- display --------------------------------------------------------------------------------
    def display(self, customer_id: str, entitlement: str = DEFAULT_ENTITLEMENT) -> Display:
        """Used / limit / remaining / percent this period and the running session(s) (``getComputeDisplay``)."""
        _require_id(customer_id, "customer_id")
        status = self.policy.status(customer_id, entitlement)
        running = [s for s in self.list(customer_id, RUNNING, limit=1000) if s.entitlement == entitlement]
        return compute_display(
            customer_id, entitlement, used=status.used, limit=status.limit, remaining=status.remaining,
            percent=status.percent, mode=status.mode, running=running, now_us=self.now_us(),
            unit_seconds=self._unit_seconds(customer_id, entitlement),
        )


def environments_to_reap(store: Store) -> list[str]:
    """Environments that have running or stopping sessions."""
    with store.read() as conn:
        return repo.environments_with_work(conn)


def reap_all(
    store: Store, max_idle_seconds: float = 1800, *, environments: Iterable[str] | None = None,
    charge_until: str = "now", limit: int = 1000, recover_after: float = 60, clock: Clock | None = None,
) -> list[ReapResult]:
    """One reaper pass over ``environments`` (default: every environment with open sessions)."""
    envs = list(environments) if environments is not None else environments_to_reap(store)
    out = []
    for env in envs:
        svc = SessionService(store, PolicyService(store, environment=env, clock=clock, covering=LedgerCovering()), clock)
        out.append(svc.reap(max_idle_seconds, charge_until=charge_until, limit=limit, recover_after=recover_after))
    return out
