"""The invoice run's pieces: what is due, and invoices written in chunks.

``billing_repo.snapshot`` opens the read transaction a run prices from; ``billing_repo.load_subscriptions``
and ``due_periods`` find every period to bill with a fixed number of queries. ``write_chunk`` writes
a chunk of priced periods in one write transaction with a fixed number of statements: it locks the
chunk's subscriptions and re-reads their plan history (a plan change committed after the run priced
a period is priced again here, so an invoice always matches the plan history it was written with),
records the late-usage adjustments found, lets the next invoice of each subscription carry its
pending adjustments, then ``write_invoices`` creates drafts, re-prices existing drafts, finalizes
what it is told to and queues the webhook messages. ``invoicing.runner`` strings them together for
``Billing.run``; ``Billing.create_invoice`` and ``Billing.finalize`` write through ``write_chunk`` too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Callable, Sequence

from ..billing.invoice import InvoiceDraft
from ..billing.periods import Period, period_at, periods_until
from ..pricing import UnbillableQuantity
from ..storage import billing_adjustments as adj_repo
from ..storage import billing_invoices as inv_repo
from ..storage import billing_repo as repo
from ..storage import billing_runs as runs_repo
from ..storage.billing_adjustments import Adjustment, NewAdjustment
from ..storage.billing_invoices import DRAFT, FINALIZED, Invoice, NewInvoice, Stored
from ..storage.billing_repo import Subscription
from ..storage.billing_runs import Skip
from ..storage.outbox import enqueue_many, subscribers
from ..timeutil import from_us, to_us
from . import lines_wallet

#: Invoices per write transaction: short enough not to hold SQLite's write lock for long.
CHUNK = 1000


@dataclass
class RunResult:
    """What ``Billing.run`` did: invoice ids created, already present, finalized; the periods it could
    not price (``skipped``); adjustments of late usage it recorded; drafts it left unfinalized because
    their grace period has not passed (``in_grace``); the id of each environment's run."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    finalized: list[str] = field(default_factory=list)
    thresholds: int = 0
    skipped: list[Skip] = field(default_factory=list)
    adjustments: list[str] = field(default_factory=list)
    in_grace: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)

    def merge(self, other: "RunResult") -> "RunResult":
        for name in ("created", "existing", "finalized", "skipped", "adjustments", "in_grace", "run_ids"):
            getattr(self, name).extend(getattr(other, name))
        self.thresholds += other.thresholds
        return self


def skip_of(sub: Subscription, period: Period, kind: str, exc: UnbillableQuantity) -> Skip:
    """What a run records of a period it could not price."""
    value = exc.value
    return Skip(sub.environment, sub.id, sub.customer_id, to_us(period.start), to_us(period.end), kind, exc.meter_id,
                None if value is None else str(value), exc.reason, exc.message)


def due_periods(subs: list[Subscription], statuses: dict[tuple[str, int], str],
                until: datetime) -> list[tuple[Subscription, Period]]:
    """Every (subscription, period) ended by ``until`` without an invoice, or with only a draft
    (``statuses`` from ``billing_invoices.period_statuses``)."""
    out = []
    schedules: dict[tuple, list[tuple[int, Period]]] = {}  # subscriptions on one schedule share its periods
    for sub in subs:
        key = (sub.start_at, sub.anchor_at, sub.cycle, sub.ends_at)
        periods = schedules.get(key)
        if periods is None:
            periods = schedules[key] = [(to_us(p.start), p)
                                        for p in periods_until(sub.start, sub.anchor, sub.cycle, until, sub.ends)]
        for start, period in periods:
            if statuses.get((sub.id, start)) in (None, DRAFT):
                out.append((sub, period))
    return out


@dataclass(frozen=True)
class Written:
    """One priced period after ``write_invoices``."""

    item: NewInvoice
    stored: Stored  # the invoice row (created now, or found)
    finalized: bool  # finalized by this write

    def invoice(self, now_us: int) -> Invoice:
        """The invoice as this write left it (for one created or finalized now)."""
        status = FINALIZED if self.finalized else self.stored.status
        return inv_repo.drafted(self.item, self.stored, status, now_us if self.finalized else None)


def write_invoices(conn, priced: list[tuple[Subscription, InvoiceDraft]], now_us: int,
                   finalize: bool | Sequence[bool] = False) -> list[Written]:
    """Create the draft invoice of each priced period (idempotent per period), re-price the drafts
    found with these prices, finalize those ``finalize`` says (a flag for all, or one per period), and
    queue ``invoice.created`` / ``invoice.finalized``. A fixed number of statements per call, however
    long ``priced`` is."""
    items = [NewInvoice(sub.environment, sub.id, sub.customer_id, draft) for sub, draft in priced]
    stored = inv_repo.insert_invoices(conn, items, now_us)
    flags = [finalize] * len(items) if isinstance(finalize, bool) else list(finalize)
    drafts = [(it, s, f) for it, s, f in zip(items, stored, flags) if s.status == DRAFT]
    # a new invoice already carries these prices; a draft found is re-priced with them
    done = set(inv_repo.finalize_drafts(conn, {s.id: None if s.created else it.draft for it, s, f in drafts if f},
                                        now_us))
    inv_repo.reprice_drafts(conn, {s.id: it.draft for it, s, f in drafts if not f and not s.created}, now_us)
    paid = lines_wallet.pay(conn, sorted(done), now_us)  # wallets pay what the finalized invoices ask
    written = [Written(it, s, s.id in done) for it, s in zip(items, stored)]
    _announce(conn, written, now_us, paid)
    return written


def _announce(conn, written: list[Written], now_us: int, paid: set[str] = frozenset()) -> None:
    """Queue the webhook messages of a write; payloads are built only when some endpoint wants them.
    ``invoice.finalized`` carries the invoice as stored: one a wallet ``paid`` is read back with its payment line."""
    by_env: dict[str, list[Written]] = defaultdict(list)
    for w in written:
        by_env[w.item.environment].append(w)
    for env, ws in by_env.items():
        created = [w for w in ws if w.stored.created]
        if created:
            drafts = [Written(w.item, w.stored, False) for w in created]  # as created, before any finalization
            enqueue_many(conn, env, "invoice.created", subscribers(conn, env, "invoice.created"),
                         (w.invoice(now_us).to_dict() for w in drafts), now_us)
        finalized = [w for w in ws if w.finalized]
        if finalized:
            enqueue_many(conn, env, "invoice.finalized", subscribers(conn, env, "invoice.finalized"),
                         ((inv_repo.get_invoice(conn, env, w.stored.id) if w.stored.id in paid
                           else w.invoice(now_us)).to_dict() for w in finalized), now_us)


@dataclass(frozen=True)
class Due:
    """A due period priced by a run: its draft (the plan's lines and every line source's) and the grace
    period that applies to it (``billing.grace``)."""

    sub: Subscription
    period: Period
    draft: InvoiceDraft
    grace_hours: int


@dataclass
class Chunk:
    """What ``write_chunk`` wrote: one ``Written`` per due period still priceable, the periods a plan
    change made unpriceable, the adjustments recorded (by this transaction) and the finalization asked
    of each written period."""

    written: list[Written] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    recorded: list[Adjustment] = field(default_factory=list)
    asked: list[bool] = field(default_factory=list)


def write_chunk(conn, due: list[Due], found: list[NewAdjustment], now_us: int, finalize: Callable[[Due], bool],
                reprice: Callable[[Subscription, Period], Due]) -> Chunk:
    """Write a chunk of a run (or one invoice) in the caller's write transaction; see the module docstring.

    ``reprice(sub, period)`` prices a period again on this transaction (after a plan change);
    ``finalize(due)`` says whether to finalize a period's invoice."""
    out = Chunk()
    repo.lock_subscriptions(conn, [d.sub.id for d in due] + [a.subscription_id for a in found])
    histories = repo.plan_histories(conn, [d.sub.id for d in due])
    fresh: list[Due] = []
    for d in due:
        now_history = histories.get(d.sub.id, [])
        if now_history != [tuple(s) for s in d.sub.segments]:  # a plan change committed after the run priced it
            try:
                d = reprice(_with_history(d.sub, now_history), d.period)
            except UnbillableQuantity as exc:
                out.skipped.append(skip_of(d.sub, d.period, runs_repo.INVOICE, exc))
                continue
        fresh.append(d)
    out.recorded = adj_repo.insert_adjustments(conn, found, now_us)
    carry = adj_repo.carryable(conn, [d.sub.id for d in fresh])
    drafts, targets = _carry(conn, fresh, carry)
    out.asked = [finalize(d) for d in fresh]
    out.written = write_invoices(conn, [(d.sub, draft) for d, draft in zip(fresh, drafts)], now_us, out.asked)
    adj_repo.assign(conn, {aid: out.written[i].stored.id for aid, i in targets.items()
                           if out.written[i].stored.status == DRAFT})
    for env in sorted({a.environment for a in out.recorded}):
        mine = [a for a in out.recorded if a.environment == env]
        enqueue_many(conn, env, "invoice.adjustment_pending", subscribers(conn, env, "invoice.adjustment_pending"),
                     (a.to_dict() for a in mine), now_us)
    return out


def _with_history(sub: Subscription, history: list[tuple]) -> Subscription:
    return replace(sub, segments=[tuple(s) for s in history])


def _carry(conn, due: list[Due], carry: dict[str, list[Adjustment]]) -> tuple[list[InvoiceDraft], dict[str, int]]:
    """Each due period's draft with the adjustment lines it carries, and ``adjustment id -> index`` of
    the pending adjustments given to a period here. A subscription's pending adjustment goes to its
    earliest due period that starts at or after the adjusted period's end; one a draft already carries
    stays on that draft."""
    extra: dict[int, list[Adjustment]] = defaultdict(list)
    targets: dict[str, int] = {}
    if carry:
        existing = inv_repo.period_invoices(conn, list(carry))
        by_sub: dict[str, list[int]] = defaultdict(list)
        for i, d in enumerate(due):
            by_sub[d.sub.id].append(i)
        for sid, adjustments in carry.items():
            slots = sorted(by_sub.get(sid, []), key=lambda i: due[i].period.start)
            stored = {i: existing.get((sid, to_us(due[i].period.start)), (None, DRAFT)) for i in slots}
            by_invoice = {iid: i for i, (iid, _) in stored.items() if iid is not None}
            for a in adjustments:
                if a.invoice_id is not None:  # carried by a draft already: stays there
                    if a.invoice_id in by_invoice:
                        extra[by_invoice[a.invoice_id]].append(a)
                    continue
                for i in slots:  # a new invoice or a draft (one finalized meanwhile by another run cannot take it)
                    if to_us(due[i].period.start) >= a.period_end and stored[i][1] == DRAFT:
                        extra[i].append(a)
                        targets[a.id] = i
                        break
    drafts = [d.draft.with_lines([a.line() for a in extra[i]]) if extra.get(i) else d.draft for i, d in enumerate(due)]
    return drafts, targets


def period_of(sub: Subscription, start_us: int) -> Period:
    """The billing period of ``sub`` that starts at ``start_us`` (an invoice's)."""
    return period_at(sub.start, sub.anchor, sub.cycle, from_us(start_us))
