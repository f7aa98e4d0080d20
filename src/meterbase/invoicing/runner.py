"""``run_environment``: one environment's invoice run, isolated per period.

1. **Snapshot.** One read transaction (``billing_repo.snapshot``) loads the subscriptions, the due
   periods (ended by ``until``, without an invoice or with a draft), the finalized invoices whose
   period ended at most ``lookback_days`` before ``until`` -- or before the previous run started, if
   that is earlier, so usage arriving up to ``lookback_days`` after its period ended is found by the
   next run however long after it comes -- with their usage lines, the adjustments already recorded
   for them and the periods that need attention; the ``Pricer`` prefetches the usage of all of them.
2. **Pricing, one period at a time.** A period whose usage no price can take (a negative total of
   refunds, a total ≥ 1e30: ``pricing.quantity.UnbillableQuantity``) is *skipped* -- recorded with
   its subscription, customer, meter, value and reason -- and every other period is billed. Each
   finalized period is priced again with its usage now; a difference is a late-usage adjustment
   (``billing.adjustments``), recorded once and carried by the subscription's next invoice.
3. **Writes** in chunks of whole subscriptions (``run.write_chunk``): a plan change committed since the
   snapshot is priced again there. With ``finalize`` only periods past their grace period are
   finalized (``billing.grace``); ``finalize_now`` finalizes every ended period.
4. **Record.** The run, its skipped periods (``invoice.run_skipped`` for each period that newly needs
   attention) and the periods that no longer need attention are written in one last transaction.

A run covers one environment: test_mode data never blocks live_mode billing (``Billing.run`` with no
environment runs each one on its own).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Callable

from ..billing.adjustments import billed_covers, late_usage, meter_bills, usage_covers
from ..billing.grace import grace_hours, past_grace
from ..billing.periods import Period
from ..errors import ValidationError
from ..ids import new_id
from ..pricing import UnbillableQuantity
from ..storage import audit
from ..storage import billing_adjustments as adj_repo
from ..storage import billing_invoices as inv_repo
from ..storage import billing_runs as runs_repo
from ..storage.billing_adjustments import NewAdjustment
from ..storage.billing_repo import Subscription, load_subscriptions, snapshot
from ..storage.billing_runs import ADJUSTMENT, INVOICE, Run
from ..storage.outbox import enqueue_many, subscribers
from ..storage.retry import retry_transaction
from ..timeutil import from_us, to_us
from . import run as billing_run
from .pricer import Pricer
from .run import Due, RunResult, period_of, skip_of, write_chunk

#: Usage arriving up to this long after its period ended becomes an adjustment (by default).
DEFAULT_LOOKBACK_DAYS = 90
MAX_LOOKBACK_DAYS = 36600


@dataclass(frozen=True)
class RunOptions:
    finalize: bool = False  # finalize the periods past their grace period
    finalize_now: bool = False  # finalize every ended period, grace or not
    lookback_days: int = DEFAULT_LOOKBACK_DAYS

    def __post_init__(self):
        days = self.lookback_days
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_LOOKBACK_DAYS:
            raise ValidationError(f"lookback_days must be a whole number from 0 to {MAX_LOOKBACK_DAYS}",
                                  "lookback_days")

    @property
    def mode(self) -> str:
        return "now" if self.finalize_now else ("past_grace" if self.finalize else "no")

    def wants(self, due: Due, now: datetime) -> bool:
        """Finalize this period's invoice?"""
        return self.finalize_now or (self.finalize and past_grace(due.period, due.grace_hours, now))


def price_due(pricer: Pricer, sub: Subscription, period: Period) -> Due:
    """A due period priced, with the grace period of the plan in force at its end (may raise
    ``UnbillableQuantity``)."""
    draft = pricer.draft(sub, period)
    hours = sub.grace_period_hours
    if hours is None:
        end, product_id = to_us(period.end), sub.segments[0][1]
        for effective_at, pid, _ in sub.segments:  # the plan history is ordered: the last one before the end
            if effective_at < end:
                product_id = pid
        hours = grace_hours(None, pricer.product(sub.environment, product_id).plan.grace_period_hours)
    return Due(sub, period, draft, hours)


def run_environment(store, env: str, until: datetime, options: RunOptions,
                    progress: Callable[[int, int], None] | None = None,
                    after: Callable[[list[Subscription], datetime], int] | None = None) -> RunResult:
    """One environment's run (module docstring); ``after(subscriptions, until)`` runs last with the
    snapshot's subscriptions and returns the usage thresholds it found reached."""
    started = store.now()
    now = from_us(started)
    until = min(until, now)
    with snapshot(store) as conn:
        previous = runs_repo.last_started(conn, env)
        since = to_us(min(until, from_us(previous) if previous is not None else until)
                      - timedelta(days=options.lookback_days))
        subs = load_subscriptions(conn, env)
        due = billing_run.due_periods(subs, inv_repo.period_statuses(conn, env), until)
        by_id = {s.id: s for s in subs}
        billed = [b for b in inv_repo.finalized_usage(conn, env, since, to_us(until)) if b.subscription_id in by_id]
        prior = adj_repo.for_periods(conn, env, since)
        open_keys = runs_repo.open_keys(conn, env)
        late = [(by_id[b.subscription_id], period_of(by_id[b.subscription_id], b.period_start), b) for b in billed]
        pricer = Pricer(conn)
        pricer.prefetch(due + [(sub, period) for sub, period, _ in late])
    pricer.detach()

    result, priced = RunResult(), set()
    dues: list[Due] = []
    for sub, period in due:
        try:
            dues.append(price_due(pricer, sub, period))
        except UnbillableQuantity as exc:
            result.skipped.append(skip_of(sub, period, INVOICE, exc))
    found: list[NewAdjustment] = []
    for sub, period, b in late:
        earlier = [a.prior() for a in prior.get((sub.id, b.period_start), [])]
        key = (sub.id, b.period_start, ADJUSTMENT)
        if usage_covers(pricer.quantities(sub, pricer.segments(sub, period))) == billed_covers(b.lines, earlier):
            priced.add(key)  # nothing arrived late (the common case: no pricing needed)
            continue
        try:
            now_bill = meter_bills(pricer.plan_draft(sub, period).lines)
        except UnbillableQuantity as exc:
            result.skipped.append(skip_of(sub, period, ADJUSTMENT, exc))
            continue
        priced.add(key)
        found.extend(NewAdjustment(env, sub.id, sub.customer_id, period.start, period.end, b.invoice_id, b.currency, d)
                     for d in late_usage(meter_bills(b.lines), earlier, now_bill))

    def reprice(conn):
        return lambda sub, period: price_due(Pricer(conn), sub, period)

    done = 0
    for chunk_due, chunk_found in _chunks(dues, found):
        chunk = retry_transaction(lambda: _write(store, env, until, chunk_due, chunk_found, options, now, reprice))
        result.skipped.extend(chunk.skipped)
        result.adjustments.extend(a.id for a in chunk.recorded)
        for w, asked in zip(chunk.written, chunk.asked):
            (result.created if w.stored.created else result.existing).append(w.stored.id)
            if w.finalized:
                result.finalized.append(w.stored.id)
            elif options.finalize and not asked and w.stored.status == inv_repo.DRAFT:
                result.in_grace.append(w.stored.id)
            priced.add((w.item.subscription_id, to_us(w.item.draft.period.start), INVOICE))
        done += len(chunk_due)
        if progress:
            progress(done, len(dues))
    record = Run(new_id("run"), env, to_us(until), options.mode, options.lookback_days, started, store.now(),
                 len(result.created), len(result.existing), len(result.finalized), len(result.skipped),
                 len(result.adjustments), audit.current_actor()[:255], result.skipped)
    retry_transaction(lambda: _record(store, record, open_keys, priced))
    result.skipped = [replace(s, run_id=record.id) for s in result.skipped]
    result.run_ids.append(record.id)
    if after is not None:
        result.thresholds += after(subs, until)
    return result


def _chunks(dues: list[Due], found: list[NewAdjustment]):
    """``(dues, adjustments)`` chunks of about ``run.CHUNK`` items; a subscription is never split."""
    per_sub: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for d in dues:
        per_sub[d.sub.id][0].append(d)
    for a in found:
        per_sub[a.subscription_id][1].append(a)
    chunk_due: list[Due] = []
    chunk_found: list[NewAdjustment] = []
    for d_list, a_list in per_sub.values():
        if chunk_due or chunk_found:
            if len(chunk_due) + len(chunk_found) + len(d_list) + len(a_list) > billing_run.CHUNK:
                yield chunk_due, chunk_found
                chunk_due, chunk_found = [], []
        chunk_due.extend(d_list)
        chunk_found.extend(a_list)
    if chunk_due or chunk_found:
        yield chunk_due, chunk_found


def _write(store, env: str, until: datetime, dues, found, options: RunOptions, now: datetime, reprice):
    with store.write() as conn:
        at = store.now()
        chunk = write_chunk(conn, dues, found, at, lambda d: options.wants(d, now), reprice(conn))
        created = sum(w.stored.created for w in chunk.written)
        finalized = sum(w.finalized for w in chunk.written)
        if created or finalized or chunk.recorded:
            details = {"created": created, "finalized": finalized}
            if chunk.recorded:
                details["adjustments"] = len(chunk.recorded)
            audit.record(conn, env, None, "invoices.run", f"until {until.isoformat()}", details, at)
        return chunk


def _record(store, run: Run, open_keys: set, priced: set) -> None:
    """The run and its skipped periods; ``invoice.run_skipped`` for each period newly needing attention;
    periods priced by this run need none any more."""
    with store.write() as conn:
        runs_repo.record_run(conn, run)
        failed = {s.key for s in run.skips}
        runs_repo.resolve(conn, (open_keys & priced) - failed, run.finished_at)
        new = [s for s in run.skips if s.key not in open_keys]
        if new:
            enqueue_many(conn, run.environment, "invoice.run_skipped",
                         subscribers(conn, run.environment, "invoice.run_skipped"),
                         ({**s.to_dict(), "run_id": run.id} for s in new), run.finished_at)
