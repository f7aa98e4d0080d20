"""Batch-job helpers (seed 004): pre-flight against an estimate, meter the actual duration at the end.

* :func:`preflight` — ``check()`` the job's estimate before starting it (read-only: nothing is consumed),
  answering with what is left and what was estimated, so a 4-hour job is refused up front, not mid-run.
* :func:`run_metered` — a context manager timing the block with a monotonic clock. On completion it
  ``allow()``s the actual duration; when the block raises, it meters the partial duration that ran
  (crashing jobs are not free compute) and raises :class:`JobFailed` carrying ``seconds_charged``.
* :func:`run_job` — the seed's ``handleGpuJob`` in one call: pre-flight, run, meter, and a
  :class:`JobResult` that always says how many seconds were charged.

Durations are rounded up to whole seconds (``Math.ceil`` in the seed) and passed as ``'<n>s'`` so a credit
counted in another time unit converts exactly. Metering happens at completion, so on a *hard* limit a job
that ran longer than what was left is refused by ``allow()`` and consumes nothing: the result then has
``metered=False`` and ``seconds_charged=0`` and the outcome's ``reason`` is ``limit_exceeded``.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterator

from ..events.values import decimal_text
from .results import Outcome
from .service import PolicyService
from ..units import TIME, UNITS, Amount

ZERO = Decimal(0)
NO_ACCESS = "NO_ACCESS"
QUOTA_INSUFFICIENT = "QUOTA_INSUFFICIENT"
JOB_ERROR = "JOB_ERROR"


def _text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


@dataclass(frozen=True)
class Preflight:
    """Answer of :func:`preflight`: truthy when the job may start."""

    ok: bool
    code: str | None  # None, NO_ACCESS or QUOTA_INSUFFICIENT
    message: str | None
    remaining: Decimal | None  # what is left this period (None: no limit)
    estimated: Decimal | None  # the estimate in the credit's units
    outcome: Outcome | None = None

    def __bool__(self) -> bool:
        return self.ok

    def to_dict(self) -> dict:
        return {
            "ok": self.ok, "code": self.code, "message": self.message,
            "remaining": _text(self.remaining), "estimated": _text(self.estimated),
        }


def preflight(
    service: PolicyService, customer_id: str, entitlement: str, estimate: Amount | None, *, access: str | None = None
) -> Preflight:
    """Can a job of ``estimate`` (seconds, or a unit string such as ``'2hr'``) start? Consumes nothing.

    ``access`` names a boolean entitlement to require first (``gpu_access``). With ``estimate=None`` (a live
    session of unknown length) a hard limit only needs something left.
    """
    if access is not None and not service.check(customer_id, access):
        return Preflight(False, NO_ACCESS, f"{access} is not available on this plan", None, None)
    outcome = service.check(customer_id, entitlement, estimate)
    if outcome.reason == "not_in_plan":
        return Preflight(False, NO_ACCESS, f"{entitlement} is not available on this plan", None, None, outcome)
    remaining = outcome.remaining
    if not outcome:
        message = (
            "no quota remaining" if outcome.amount is None
            else f"insufficient quota for this job: {_text(outcome.amount)} estimated, {_text(remaining)} remaining"
        )
        return Preflight(False, QUOTA_INSUFFICIENT, message, remaining, outcome.amount, outcome)
    return Preflight(True, None, None, remaining, outcome.amount, outcome)


def billable_seconds(elapsed: float) -> int:
    """Whole seconds to charge for ``elapsed`` seconds of wall time (rounded up; never negative)."""
    return max(0, math.ceil(round(elapsed, 9)))


@dataclass
class MeteredRun:
    """State of a :func:`run_metered` block; filled in when it ends."""

    customer_id: str
    entitlement: str
    started_at: float
    seconds_run: int | None = None
    seconds_charged: Decimal | None = None  # in the credit's units (seconds for a 's' credit)
    outcome: Outcome | None = None  # the allow() decision; None when nothing ran (0 s on failure)

    @property
    def metered(self) -> bool:
        return self.outcome is not None and self.outcome.allowed and self.outcome.consumed > 0


class JobFailed(Exception):
    """The metered block raised; ``seconds_charged`` of partial duration were metered. ``__cause__`` is the error."""

    def __init__(self, cause: BaseException, run: MeteredRun):
        self.cause = cause
        self.run = run
        self.seconds_charged = run.seconds_charged if run.seconds_charged is not None else ZERO
        self.seconds_run = run.seconds_run or 0
        super().__init__(f"job failed after {self.seconds_run}s ({decimal_text(self.seconds_charged)} charged): {cause}")


def _duration_amount(service: PolicyService, customer_id: str, entitlement: str) -> Callable[[int], Amount]:
    """How to express whole seconds for this entitlement's credit (also checks the customer exists)."""
    ent = service.entitlement(customer_id, entitlement)
    units = ent.limit.credit.stof_units if ent is not None and ent.limit is not None else None
    if units is not None and UNITS[units][0] == TIME:
        return lambda seconds: f"{seconds}s"
    return lambda seconds: seconds


@contextmanager
def run_metered(
    service: PolicyService,
    customer_id: str,
    entitlement: str,
    *,
    idempotency_key: str | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> Iterator[MeteredRun]:
    """Time the block and ``allow()`` its duration at the end, whether it completes or crashes.

    On success ``run.seconds_charged`` / ``run.outcome`` are set after the block. On failure the partial
    duration is metered (when > 0 s) and :class:`JobFailed` is raised from the original error, with
    ``seconds_charged``; ``KeyboardInterrupt``/``SystemExit`` are metered too and re-raised unchanged.
    """
    to_amount = _duration_amount(service, customer_id, entitlement)
    run = MeteredRun(customer_id, entitlement, monotonic())

    def meter() -> None:
        run.seconds_run = billable_seconds(monotonic() - run.started_at)
        if run.seconds_run > 0:
            run.outcome = service.allow(customer_id, entitlement, to_amount(run.seconds_run), idempotency_key=idempotency_key)
            run.seconds_charged = run.outcome.consumed
        else:
            run.seconds_charged = ZERO

    try:
        yield run
    except BaseException as exc:
        meter()
        if isinstance(exc, Exception):
            raise JobFailed(exc, run) from exc
        raise
    meter()


@dataclass
class JobResult:
    """Outcome of :func:`run_job`; ``seconds_charged`` is always what the customer is charged for."""

    ok: bool
    code: str | None = None  # None, NO_ACCESS, QUOTA_INSUFFICIENT or JOB_ERROR
    message: str | None = None
    result: Any = None
    cause: BaseException | None = None
    seconds_run: int = 0
    seconds_charged: Decimal = ZERO
    remaining: Decimal | None = None
    estimated: Decimal | None = None
    outcome: Outcome | None = None
    preflight: Preflight | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok, "code": self.code, "message": self.message,
            "cause": None if self.cause is None else str(self.cause),
            "seconds_run": self.seconds_run, "seconds_charged": _text(self.seconds_charged),
            "remaining": _text(self.remaining), "estimated": _text(self.estimated),
        }


def run_job(
    service: PolicyService,
    customer_id: str,
    entitlement: str,
    job: Callable[..., Any],
    *args: Any,
    estimate: Amount | None = None,
    access: str | None = None,
    idempotency_key: str | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    **kwargs: Any,
) -> JobResult:
    """Pre-flight (when ``estimate`` or ``access`` is given), run ``job(*args, **kwargs)``, meter the duration.

    Never raises for the job's own failure: a crash gives ``code='JOB_ERROR'`` with the partial duration
    charged. Errors of the policy engine itself (unknown customer, database down) do propagate.
    """
    pre = None
    if estimate is not None or access is not None:
        pre = preflight(service, customer_id, entitlement, estimate, access=access)
        if not pre:
            return JobResult(False, pre.code, pre.message, remaining=pre.remaining, estimated=pre.estimated, preflight=pre)
    try:
        with run_metered(service, customer_id, entitlement, idempotency_key=idempotency_key, monotonic=monotonic) as run:
            value = job(*args, **kwargs)
    except JobFailed as failed:
        run = failed.run
        return JobResult(
            False, JOB_ERROR, f"job failed: {failed.cause}", cause=failed.cause, seconds_run=failed.seconds_run,
            seconds_charged=failed.seconds_charged, remaining=run.outcome.remaining if run.outcome else None,
            estimated=pre.estimated if pre else None, outcome=run.outcome, preflight=pre,
        )
    return JobResult(
        True, result=value, seconds_run=run.seconds_run or 0, seconds_charged=run.seconds_charged or ZERO,
        remaining=run.outcome.remaining if run.outcome else None, estimated=pre.estimated if pre else None,
        outcome=run.outcome, preflight=pre,
    )
