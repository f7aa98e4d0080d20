"""The invoice run: what is due, and invoices written in chunks.

``billing_repo.snapshot`` opens the read transaction a run prices from; ``billing_repo.load_subscriptions``
and ``due_periods`` find every period to bill with a fixed number of queries, and ``write_invoices``
writes a chunk of priced periods (drafts, their lines, optional finalization, webhook messages)
with a fixed number of statements. ``Billing.run`` strings them together; ``Billing.create_invoice``
writes its one invoice through ``write_invoices`` too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from ..billing.invoice import InvoiceDraft
from ..billing.periods import Period, periods_until
from ..storage import billing_invoices as inv_repo
from ..storage.billing_invoices import DRAFT, FINALIZED, Invoice, NewInvoice, Stored
from ..storage.billing_repo import Subscription
from ..storage.outbox import enqueue_many, subscribers
from ..timeutil import to_us
from . import lines_wallet

#: Invoices per write transaction: short enough not to hold SQLite's write lock for long.
CHUNK = 1000


@dataclass
class RunResult:
    """What ``Billing.run`` did: invoice ids created, already present, finalized."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    finalized: list[str] = field(default_factory=list)
    thresholds: int = 0


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
                   finalize: bool = False) -> list[Written]:
    """Create the draft invoice of each priced period (idempotent per period), finalize the drafts
    among them with their prices here when ``finalize``, and queue ``invoice.created`` /
    ``invoice.finalized``. A fixed number of statements per call, however long ``priced`` is."""
    items = [NewInvoice(sub.environment, sub.id, sub.customer_id, draft) for sub, draft in priced]
    stored = inv_repo.insert_invoices(conn, items, now_us)
    done: set[str] = set()
    if finalize:  # a new invoice already carries these prices; a draft found is re-priced with them
        done = set(inv_repo.finalize_drafts(conn, {s.id: None if s.created else it.draft
                                                   for it, s in zip(items, stored) if s.status == DRAFT}, now_us))
        lines_wallet.pay(conn, sorted(done), now_us)
    written = [Written(it, s, s.id in done) for it, s in zip(items, stored)]
    _announce(conn, written, now_us)
    return written


def _announce(conn, written: list[Written], now_us: int) -> None:
    """Queue the webhook messages of a write; payloads are built only when some endpoint wants them."""
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
                         (w.invoice(now_us).to_dict() for w in finalized), now_us)
