"""The credit ledger's rules (pure: no I/O): grants, FIFO deduction, overage, expiry, rollover, cycle ends.

A :class:`CreditAccount` is one customer's balance of one entitlement: its open grants, ``balance`` (what
the grants hold) and ``overage`` (what was debited past zero). Every operation changes the account and
returns the :class:`Entry` records it made; storage writes them in one transaction.

* :func:`add` — a grant. Under ``carry_deficit_auto_repay`` new credits first repay the overage.
* :func:`deduct` — FIFO over the open grants: the earliest-ending first (expiry or cycle end), then the
  oldest. Past zero it becomes overage when ``overage_enabled`` and within ``overage_limit``; otherwise
  it is refused (:class:`InsufficientCredits`) and changes nothing.
* :func:`adjust` — a manual correction (``manual_adjustment``): a grant when positive, a deduction that
  may not reach into overage when negative.
* :func:`settle` — everything that happened by *now*, in time order: at a cycle end, each cycle-bound
  grant rolls over ``rollover_percentage`` % of what is left into a new ``rollover`` grant (valid for the
  rollover timeframe; the rest expires), or is forfeited once it was rolled ``max_rollover_count``
  times, or expires when rollover is off (rollover before expiry: only the remainder expires);
  then grants past ``expires_at`` expire; then at the schedule's boundary the overage is forgiven
  (``overage_reset``), invoiced (``overage_charged``) or carried, and the new cycle's credits are issued.

Invariants (proved over random operation sequences in ``tests/credits/test_ledger_properties.py``):
``balance`` = Σ remaining of open grants = Σ (balance_after − balance_before) over the ledger; ``overage``
= Σ (overage_after − overage_before); each entry starts where the previous one ended; and per entry,
Δbalance − Δoverage is ``+amount`` for a credit, ``−amount`` for a debit and 0 for ``credit_rolled_over``
(a transfer from the parent grant to the rollover grant).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..errors import MeterbaseError, ValidationError
from ..exact import WIDE
from ..ids import new_id
from .amounts import ZERO, at_precision, share
from .cycles import Schedule, timeframe_end
from .entitlement import CARRY_DEFICIT_AUTO_REPAY, FORGIVE_AT_RESET, INVOICE_AT_BILLING, CreditEntitlement

CREDIT_ADDED = "credit_added"
CREDIT_DEDUCTED = "credit_deducted"
CREDIT_EXPIRED = "credit_expired"
CREDIT_ROLLED_OVER = "credit_rolled_over"
ROLLOVER_FORFEITED = "rollover_forfeited"
OVERAGE_CHARGED = "overage_charged"
OVERAGE_RESET = "overage_reset"
MANUAL_ADJUSTMENT = "manual_adjustment"
TRANSACTION_TYPES = (CREDIT_ADDED, CREDIT_DEDUCTED, CREDIT_EXPIRED, CREDIT_ROLLED_OVER, ROLLOVER_FORFEITED,
                     OVERAGE_CHARGED, OVERAGE_RESET, MANUAL_ADJUSTMENT)
#: Webhook event type of each transaction type (``credit.added`` ...); ``credit.balance_low`` is separate.
WEBHOOK_TYPES = {t: "credit." + t.replace("credit_", "") for t in TRANSACTION_TYPES}
BALANCE_LOW = "credit.balance_low"
SOURCE_TYPES = ("subscription", "one_time", "addon", "api", "rollover")
US_PER_DAY = 86_400_000_000


class InsufficientCredits(MeterbaseError):
    """A deduction the balance (and the overage allowance) cannot cover: refused, nothing changed."""

    status = 400
    code = "insufficient_credits"


@dataclass
class Grant:
    id: str
    initial: Decimal
    remaining: Decimal
    created_at: int
    source_type: str = "api"
    source_id: str | None = None
    parent_grant_id: str | None = None
    rollover_count: int = 0
    expires_at: int | None = None
    cycle_end: int | None = None  # cycle-bound (subscription / rollover): settled at this cycle end
    closed: str | None = None  # None (open or depleted) | "expired" | "forfeited" | "rolled_over"
    closed_at: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    is_new: bool = False  # created in this operation (storage inserts it)
    changed: bool = False  # storage updates it

    @property
    def is_open(self) -> bool:
        return self.closed is None and self.remaining > 0

    @property
    def ends_at(self) -> int | None:
        """When this grant stops being spendable as it is: its expiry or its cycle end, the earlier."""
        ends = [t for t in (self.expires_at, self.cycle_end) if t is not None]
        return min(ends) if ends else None

    @property
    def status(self) -> str:
        if self.closed is not None:
            return "expired"
        return "active" if self.remaining > 0 else "depleted"


@dataclass
class Entry:
    transaction_type: str
    amount: Decimal
    is_credit: bool
    at: int
    balance_before: Decimal
    balance_after: Decimal
    overage_before: Decimal
    overage_after: Decimal
    grant_id: str | None = None
    allocations: tuple[tuple[str, Decimal], ...] = ()  # (grant id, amount) the entry took from / moved
    reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    period: tuple[int, int] | None = None  # the cycle an overage entry settles
    unit_price: Decimal | None = None  # overage_charged: price per credit (major units of currency)
    currency: str | None = None
    key: str | None = None  # idempotency key (client's, or "sys:..." for settlement entries)
    reference_type: str | None = None
    reference_id: str | None = None
    id: str = field(default_factory=lambda: new_id("cle"))


@dataclass
class CreditAccount:
    balance_id: str
    balance: Decimal = ZERO
    overage: Decimal = ZERO
    grants: list[Grant] = field(default_factory=list)
    schedule: Schedule | None = None
    settled_until: int | None = None  # the last cycle boundary settled (with a schedule)
    issued_cycle: int | None = None  # start of the last cycle whose credits_per_cycle were issued
    threshold_base: Decimal | None = None  # the balance right after the last credit (low-balance base)
    entries: list[Entry] = field(default_factory=list)

    def fifo(self) -> list[Grant]:
        """Open grants in deduction order: earliest end (expiry or cycle end) first, then oldest."""
        return sorted((g for g in self.grants if g.is_open),
                      key=lambda g: (g.ends_at is None, g.ends_at or 0, g.created_at))

    def next_event(self) -> int | None:
        """The next instant at which :func:`settle` has work (None: nothing is scheduled)."""
        times = [g.ends_at for g in self.grants if g.is_open and g.ends_at is not None]
        if self.schedule is not None and self.settled_until is not None:
            times.append(self.schedule.next_boundary(self.settled_until))
        return min(times) if times else None

    def _record(self, ent: CreditEntitlement, entry_type: str, amount: Decimal, is_credit: bool, at: int,
                balance: Decimal, overage: Decimal, **kw) -> Entry:
        p = ent.precision
        entry = Entry(entry_type, at_precision(amount, p), is_credit, at, at_precision(self.balance, p),
                      at_precision(balance, p), at_precision(self.overage, p), at_precision(overage, p), **kw)
        self.balance, self.overage = balance, overage
        self.entries.append(entry)
        return entry


def _expiry(ent: CreditEntitlement, at: int, expires_at: int | None) -> int | None:
    if expires_at is not None:
        if expires_at <= at:
            raise ValidationError("expires_at must be in the future", "expires_at")
        return expires_at
    return None if ent.expires_after_days is None else at + ent.expires_after_days * US_PER_DAY


def add(acct: CreditAccount, ent: CreditEntitlement, amount: Decimal, at: int, *, expires_at: int | None = None,
        source_type: str = "api", source_id: str | None = None, cycle_end: int | None = None,
        reason: str | None = None, metadata: dict | None = None, key: str | None = None,
        entry_type: str = CREDIT_ADDED, reference: tuple[str, str] | None = None) -> Entry:
    """Grant ``amount`` (positive, at the precision): a new grant, after repaying overage under auto-repay."""
    repay = min(amount, acct.overage) if ent.overage_behavior == CARRY_DEFICIT_AUTO_REPAY else ZERO
    grant = Grant(new_id("cgr"), at_precision(amount, ent.precision), at_precision(amount - repay, ent.precision),
                  at, source_type, source_id, expires_at=_expiry(ent, at, expires_at), cycle_end=cycle_end,
                  metadata=dict(metadata or {}), is_new=True)
    acct.grants.append(grant)
    entry = acct._record(ent, entry_type, amount, True, at, acct.balance + grant.remaining, acct.overage - repay,
                         grant_id=grant.id, reason=reason, metadata=dict(metadata or {}), key=key,
                         reference_type=reference[0] if reference else None,
                         reference_id=reference[1] if reference else None)
    acct.threshold_base = acct.balance
    return entry


def deduct(acct: CreditAccount, ent: CreditEntitlement, amount: Decimal, at: int, *, allow_overage: bool = True,
           reason: str | None = None, metadata: dict | None = None, key: str | None = None,
           entry_type: str = CREDIT_DEDUCTED, reference: tuple[str, str] | None = None, force: bool = False) -> Entry:
    """Take ``amount`` FIFO from the open grants; the part past zero becomes overage, or it is refused.

    ``force``: usage that already happened (a metered event) is never refused — what the rules would refuse is
    recorded as overage all the same (so later ``allow()`` calls see a balance with no room left)."""
    take = min(amount, acct.balance)
    short = amount - take
    if short > 0 and not force:
        p = ent.precision
        if not (ent.overage_enabled and allow_overage):
            raise InsufficientCredits(
                f"insufficient credits: balance {at_precision(acct.balance, p)}, requested {at_precision(amount, p)}"
                + ("" if ent.overage_enabled else " (overage is not enabled)"), "amount")
        if ent.overage_limit is not None and acct.overage + short > ent.overage_limit:
            raise InsufficientCredits(
                f"overage limit reached: overage {at_precision(acct.overage, p)} + {at_precision(short, p)} "
                f"would exceed overage_limit {at_precision(ent.overage_limit, p)}", "amount")
    allocations, left = [], take
    for grant in acct.fifo():
        if left <= 0:
            break
        used = min(left, grant.remaining)
        grant.remaining -= used
        grant.changed = True
        left -= used
        allocations.append((grant.id, used))
    return acct._record(ent, entry_type, amount, False, at, acct.balance - take, acct.overage + short,
                        grant_id=allocations[0][0] if allocations else None, allocations=tuple(allocations),
                        reason=reason, metadata=dict(metadata or {}), key=key,
                        reference_type=reference[0] if reference else None,
                        reference_id=reference[1] if reference else None)


def adjust(acct: CreditAccount, ent: CreditEntitlement, amount: Decimal, at: int, **kw) -> Entry:
    """A ``manual_adjustment``: ``amount > 0`` grants, ``amount < 0`` deducts (never into overage)."""
    if amount > 0:
        return add(acct, ent, amount, at, entry_type=MANUAL_ADJUSTMENT, **kw)
    kw.pop("expires_at", None)
    return deduct(acct, ent, -amount, at, allow_overage=False, entry_type=MANUAL_ADJUSTMENT, **kw)


def low_balance_threshold(acct: CreditAccount, ent: CreditEntitlement) -> Decimal | None:
    """``low_balance_threshold_percent`` of the balance as it stood after the last credit (None: no alert)."""
    pct, base = ent.low_balance_threshold_percent, acct.threshold_base
    if pct is None or base is None or base <= 0:
        return None
    return WIDE.divide(WIDE.multiply(base, Decimal(pct)), Decimal(100))


def crossed_low(entry: Entry, threshold: Decimal | None) -> bool:
    """True when a deduction took the balance from at/above ``threshold`` to below it."""
    return threshold is not None and entry.balance_before >= threshold > entry.balance_after


# ---------------------------------------------------------------------------------------------- settlement


def _close(acct: CreditAccount, ent: CreditEntitlement, grant: Grant, entry_type: str, how: str, at: int) -> Entry:
    amount = grant.remaining
    grant.remaining, grant.closed, grant.closed_at, grant.changed = ZERO, how, at, True
    return acct._record(ent, entry_type, amount, False, at, acct.balance - amount, acct.overage,
                        grant_id=grant.id, allocations=((grant.id, amount),), key=f"sys:{entry_type}:{grant.id}")


def _end_of_cycle(acct: CreditAccount, ent: CreditEntitlement, grant: Grant, at: int) -> list[Entry]:
    if not ent.rollover_enabled:
        return [_close(acct, ent, grant, CREDIT_EXPIRED, "expired", at)]
    if ent.max_rollover_count is not None and grant.rollover_count >= ent.max_rollover_count:
        return [_close(acct, ent, grant, ROLLOVER_FORFEITED, "forfeited", at)]
    pct = 100 if ent.rollover_percentage is None else ent.rollover_percentage
    rolled = share(grant.remaining, pct, ent.precision)
    if rolled <= 0:
        return [_close(acct, ent, grant, CREDIT_EXPIRED, "expired", at)]
    nxt = None if acct.schedule is None else acct.schedule.next_boundary(at)
    new = Grant(new_id("cgr"), rolled, rolled, at, "rollover", grant.source_id, grant.id, grant.rollover_count + 1,
                timeframe_end(at, ent.rollover_timeframe_count, ent.rollover_timeframe_interval), nxt,
                is_new=True)
    acct.grants.append(new)
    grant.remaining -= rolled
    out = [acct._record(ent, CREDIT_ROLLED_OVER, rolled, True, at, acct.balance, acct.overage, grant_id=new.id,
                        allocations=((grant.id, rolled),), metadata={"parent_grant_id": grant.id},
                        key=f"sys:{CREDIT_ROLLED_OVER}:{grant.id}")]
    if grant.remaining > 0:
        out.append(_close(acct, ent, grant, CREDIT_EXPIRED, "rolled_over", at))
    grant.closed, grant.closed_at, grant.changed = "rolled_over", at, True
    return out


def _boundary(acct: CreditAccount, ent: CreditEntitlement, at: int) -> list[Entry]:
    sched = acct.schedule
    assert sched is not None
    start = sched.period(at - 1)[0]
    out: list[Entry] = []
    if acct.overage > 0 and ent.overage_behavior in (FORGIVE_AT_RESET, INVOICE_AT_BILLING):
        charged = ent.overage_behavior == INVOICE_AT_BILLING
        out.append(acct._record(
            ent, OVERAGE_CHARGED if charged else OVERAGE_RESET, acct.overage, True, at, acct.balance, ZERO,
            period=(start, at), unit_price=ent.price_per_unit if charged else None,
            currency=ent.currency if charged else None,
            key=f"sys:{OVERAGE_CHARGED if charged else OVERAGE_RESET}:{acct.balance_id}:{at}"))
    acct.settled_until = at
    out += issue_cycle(acct, ent, at)
    return out


def issue_cycle(acct: CreditAccount, ent: CreditEntitlement, at: int) -> list[Entry]:
    """Issue the schedule's ``credits_per_cycle`` for the cycle containing ``at`` (once per cycle)."""
    sched = acct.schedule
    if sched is None or sched.credits_per_cycle is None:
        return []
    start, end = sched.period(at)
    if (acct.issued_cycle is not None and acct.issued_cycle >= start) or not sched.issues(start, end):
        return []
    acct.issued_cycle = start
    return [add(acct, ent, sched.credits_per_cycle, at, source_type="subscription", source_id=sched.source_id,
                cycle_end=end, key=f"sys:cycle:{acct.balance_id}:{start}", reason="credits for the cycle",
                reference=("cycle", str(start)))]


def attach_schedule(acct: CreditAccount, ent: CreditEntitlement, schedule: Schedule | None, now: int) -> list[Entry]:
    """Follow ``schedule`` from ``now`` (None: stop): cycles settle from the current one on, and its
    ``credits_per_cycle`` are issued for the current cycle unless already issued."""
    acct.schedule = schedule
    if schedule is None:
        acct.settled_until = None
        return []
    acct.settled_until = schedule.period(now)[0]
    return issue_cycle(acct, ent, now)


def settle(acct: CreditAccount, ent: CreditEntitlement, now: int) -> list[Entry]:
    """Apply every cycle end and expiry up to ``now`` (inclusive), in time order; returns the entries."""
    out: list[Entry] = []
    while True:
        t = acct.next_event()
        if t is None or t > now:
            return out
        for grant in acct.fifo():  # rollover before expiry
            if grant.cycle_end is not None and grant.cycle_end <= t:
                out += _end_of_cycle(acct, ent, grant, t)
        for grant in acct.fifo():
            if grant.expires_at is not None and grant.expires_at <= t:
                out.append(_close(acct, ent, grant, CREDIT_EXPIRED, "expired", t))
        sched = acct.schedule
        if sched is not None and acct.settled_until is not None and sched.next_boundary(acct.settled_until) <= t:
            out += _boundary(acct, ent, t)
