"""The pure core of live sessions: states, durations, the pre-start rule, reaping and the display.

No I/O here: instants are integer microseconds since the epoch (the storage representation).

* **States**: ``running`` -> ``stopping`` (claimed by one stopper or reaper: the end instant and the
  billable seconds are fixed) -> ``stopped`` (metered). Heartbeats are accepted only while running.
* **Duration**: ``ceil`` to whole seconds of ``end - start`` (the seed's ``Math.ceil(ms / 1000)``), never
  negative. Passed to ``allow()`` as ``'<n>s'`` when the credit counts time (``stof_units`` of the time
  family), so a credit kept in minutes or hours converts exactly; as a plain number otherwise.
* **Abandoned**: no heartbeat (or start) for more than ``max_idle_seconds``: ``last_seen < now - max_idle``
  (the seed's ``elapsed > maxIdleSeconds``, measured from the last sign of life instead of the start).
* **What a reaped session is charged** (``charge_until``): ``now`` (default, the seed: "meters the full
  elapsed duration regardless of why the session ended" — start to the moment it is reaped), ``deadline``
  (start to last heartbeat + ``max_idle``: the instant an auto-shutdown set to the same N stopped the
  machine, independent of how late the reaper runs) or ``last_seen`` (start to the last heartbeat only).
* **Pre-start** (the seed's ``startSession``): the access entitlement must be granted (``NO_ACCESS``) and the
  metered entitlement in the plan (``NO_ACCESS``); then, as in the seed, ``remaining <= 0`` refuses with
  ``QUOTA_EXHAUSTED`` (a soft limit too, unless ``allow_overage``: its overage is billed). No limit: allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Literal

from ..events.values import decimal_text
from ..units import exact
from ..timeutil import US_PER_SECOND, iso_us

RUNNING, STOPPING, STOPPED = "running", "stopping", "stopped"
STATUSES = (RUNNING, STOPPING, STOPPED)
STOPPED_BY_CLIENT, REAPED = "stopped", "reaped"

NO_ACCESS = "NO_ACCESS"
QUOTA_EXHAUSTED = "QUOTA_EXHAUSTED"

ChargeUntil = Literal["now", "deadline", "last_seen"]
CHARGE_UNTIL: tuple[str, ...] = ("now", "deadline", "last_seen")

DEFAULT_ENTITLEMENT = "gpu_compute"
DEFAULT_ACCESS = "gpu_access"
ZERO = Decimal(0)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


# ---------------------------------------------------------------------------------------------- durations


def billable_seconds(start_us: int, end_us: int) -> int:
    """Whole seconds charged for ``[start, end)``: rounded up, never negative."""
    return max(0, -(-(end_us - start_us) // US_PER_SECOND))


def elapsed_seconds(start_us: int, now_us: int) -> int:
    """Whole seconds elapsed (rounded down, the seed's display ``Math.floor``)."""
    return max(0, (now_us - start_us) // US_PER_SECOND)


def duration_amount(seconds: int, unit_seconds: Decimal | None) -> str:
    """The ``allow()`` amount for ``seconds`` given the credit's unit size in seconds (None: not a time credit).

    ``'<n>s'`` when it converts exactly (``s``, ``ms``, or a whole number of minutes/hours); a credit counted in
    larger units gets the quotient rounded up to 6 decimals (``'61s'`` into ``min`` would be inexact and
    refused by the unit rules); a credit without time units gets the plain number of seconds.
    """
    if unit_seconds is None:
        return str(seconds)
    if unit_seconds <= 1 or seconds % unit_seconds == 0:
        return f"{seconds}s"
    return decimal_text((Decimal(seconds) / unit_seconds).quantize(Decimal("0.000001"), rounding=ROUND_CEILING))


def idle_cutoff(now_us: int, max_idle_seconds: float) -> int:
    """Sessions last seen strictly before this instant are abandoned."""
    if max_idle_seconds < 0:
        raise ValueError("max_idle_seconds must not be negative")
    return now_us - round(max_idle_seconds * US_PER_SECOND)


def is_abandoned(last_seen_us: int, now_us: int, max_idle_seconds: float) -> bool:
    return last_seen_us < idle_cutoff(now_us, max_idle_seconds)


def charge_end(started_us: int, last_seen_us: int, now_us: int, max_idle_seconds: float, charge_until: str) -> int:
    """The instant a reaped session is charged up to (see the module docstring), never before its start."""
    if charge_until == "now":
        end = now_us
    elif charge_until == "deadline":
        end = min(now_us, last_seen_us + round(max_idle_seconds * US_PER_SECOND))
    elif charge_until == "last_seen":
        end = last_seen_us
    else:
        raise ValueError(f"charge_until must be one of {', '.join(CHARGE_UNTIL)}, got {charge_until!r}")
    return max(started_us, end)


# ---------------------------------------------------------------------------------------------- pre-start


@dataclass(frozen=True)
class StartRule:
    """What the pre-start check found; ``code`` None means the session may start."""

    code: str | None
    message: str | None


def start_rule(
    *, access: str | None, access_granted: bool, entitlement: str, included: bool,
    remaining: Decimal | None, mode: str | None, allow_overage: bool = False,
) -> StartRule:
    if access is not None and not access_granted:
        return StartRule(NO_ACCESS, f"{access} is not available on this plan")
    if not included:
        return StartRule(NO_ACCESS, f"{entitlement} is not available on this plan")
    if remaining is not None and remaining <= 0 and not (allow_overage and mode == "soft"):
        return StartRule(QUOTA_EXHAUSTED, f"no {entitlement} quota remaining this period")
    return StartRule(None, None)


# ---------------------------------------------------------------------------------------------- views


@dataclass(frozen=True)
class Session:
    """A live session as callers see it (instants in microseconds)."""

    session_id: str
    customer_id: str
    entitlement: str
    access_entitlement: str | None
    description: str | None
    status: str
    started_at: int
    last_seen_at: int
    heartbeats: int
    stop_reason: str | None = None
    ended_at: int | None = None
    seconds: int | None = None  # billable seconds, fixed when the stop is claimed
    amount: str | None = None
    capped_amount: str | None = None
    charged: Decimal | None = None  # consumed, in the credit's units (set once stopped)
    outcome_reason: str | None = None
    event_id: str | None = None
    metered_at: int | None = None

    @classmethod
    def from_row(cls, row) -> "Session":
        return cls(
            row.session_id, row.customer_id, row.entitlement, row.access_entitlement, row.description, row.status,
            row.started_at, row.last_seen_at, row.heartbeats, row.stop_reason, row.ended_at, row.seconds,
            row.amount, row.capped_amount, row.charged, row.outcome_reason, row.event_id, row.metered_at,
        )

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    def elapsed_seconds(self, now_us: int) -> int:
        """Running: whole seconds since start (floor); ended: the billable seconds."""
        if self.seconds is not None:
            return self.seconds
        return elapsed_seconds(self.started_at, now_us)

    def to_dict(self, now_us: int | None = None) -> dict:
        out = {
            "session_id": self.session_id,
            "customer_id": self.customer_id,
            "entitlement": self.entitlement,
            "access_entitlement": self.access_entitlement,
            "description": self.description,
            "status": self.status,
            "started_at": iso_us(self.started_at),
            "last_seen_at": iso_us(self.last_seen_at),
            "heartbeats": self.heartbeats,
            "stop_reason": self.stop_reason,
            "ended_at": None if self.ended_at is None else iso_us(self.ended_at),
            "duration_seconds": self.seconds,
            "charged": _text(self.charged),
            "capped": self.capped_amount is not None,
            "outcome_reason": self.outcome_reason,
            "event_id": self.event_id,
            "metered_at": None if self.metered_at is None else iso_us(self.metered_at),
        }
        if now_us is not None:
            out["elapsed_seconds"] = self.elapsed_seconds(now_us)
        return out


@dataclass(frozen=True)
class ActiveSession:
    session_id: str
    running_since: int
    last_seen_at: int
    elapsed_seconds: int

    def to_dict(self) -> dict:
        return {
            "session_id": self.session_id, "running_since": iso_us(self.running_since),
            "last_seen_at": iso_us(self.last_seen_at), "elapsed_seconds": self.elapsed_seconds,
        }


@dataclass(frozen=True)
class Display:
    """The seed's ``getComputeDisplay``: used / limit / remaining / percent and the running session.

    As in the seed, a missing value shows as 0 (``?? 0``); ``unlimited`` says that ``limit`` 0 means no
    limit. ``projected_remaining_seconds`` subtracts what the running sessions have used so far (not yet
    metered) from ``remaining``: the live clock a UI counts down.
    """

    customer_id: str
    entitlement: str
    used_seconds: Decimal
    limit_seconds: Decimal
    remaining_seconds: Decimal
    used_percent: Decimal
    unlimited: bool
    mode: str | None
    active_session: ActiveSession | None
    active_sessions: tuple[ActiveSession, ...]
    projected_remaining_seconds: Decimal | None

    def to_dict(self) -> dict:
        return {
            "customer_id": self.customer_id,
            "entitlement": self.entitlement,
            "used_seconds": _text(self.used_seconds),
            "limit_seconds": _text(self.limit_seconds),
            "remaining_seconds": _text(self.remaining_seconds),
            "used_percent": _text(self.used_percent),
            "unlimited": self.unlimited,
            "mode": self.mode,
            "active_session": None if self.active_session is None else self.active_session.to_dict(),
            "active_sessions": [a.to_dict() for a in self.active_sessions],
            "projected_remaining_seconds": _text(self.projected_remaining_seconds),
        }


def compute_display(
    customer_id: str, entitlement: str, *, used: Decimal | None, limit: Decimal | None, remaining: Decimal | None,
    percent: Decimal | None, mode: str | None, running: list[Session], now_us: int,
    unit_seconds: Decimal | None = Decimal(1),
) -> Display:
    """``running``: the customer's running sessions of this entitlement, any order (newest shown first).

    ``used`` / ``limit`` / ``remaining`` are in the credit's units; ``unit_seconds`` (the size of that unit in
    seconds, None when the credit does not count time) converts them to the seconds shown.
    """
    if unit_seconds is not None and unit_seconds != 1:
        used, limit, remaining = (None if v is None else exact(v * unit_seconds) for v in (used, limit, remaining))
    ordered = sorted(running, key=lambda s: (s.started_at, s.session_id), reverse=True)
    active = tuple(ActiveSession(s.session_id, s.started_at, s.last_seen_at, elapsed_seconds(s.started_at, now_us))
                   for s in ordered)
    projected = None
    if remaining is not None and unit_seconds is not None:
        projected = max(ZERO, remaining - sum((Decimal(a.elapsed_seconds) for a in active), ZERO))
    return Display(
        customer_id, entitlement,
        used if used is not None else ZERO, limit if limit is not None else ZERO,
        remaining if remaining is not None else ZERO, percent if percent is not None else ZERO,
        limit is None, mode, active[0] if active else None, active, projected,
    )
