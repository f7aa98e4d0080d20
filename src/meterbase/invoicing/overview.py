"""Billing as it stands now, for people: accounts, amount due so far, money tiles, monthly revenue.

Read-only use cases behind the dashboard and the CLI. An *account* is a customer with its
subscriptions; each active subscription carries its current period and its upcoming invoice (the
amount due so far: the period priced with usage up to now, as ``Billing.preview`` does, nothing
stored; plus the adjustments of late usage no invoice carries yet). Upcoming invoices of many
subscriptions are priced together: one read snapshot, one ``Pricer`` whose usage reads are batched per
meter (``Pricer.prefetch(…, upto)``). A subscription whose period cannot be priced has no upcoming
invoice but a ``problem`` (the others are priced). One account also lists what needs attention: the
periods invoice runs skipped and the invoiced periods with usage pending adjustment.

Money tiles and the revenue chart: *billed* is the sum of non-void invoice totals by the calendar
month (UTC) their period starts in, split finalized / draft; *this period* sums the fixed-fee and
usage lines of every active subscription's upcoming invoice. Amounts stay exact ``Decimal`` per
currency; nothing is converted between currencies.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

from ..billing.invoice import InvoiceDraft
from ..billing.periods import Period, period_at
from ..periods import add_months
from ..pricing import UnbillableQuantity
from ..storage import billing_adjustments as adj_repo
from ..storage import billing_invoices as inv_repo
from ..storage import billing_repo as repo
from ..storage import billing_runs as runs_repo
from ..storage.billing_invoices import VOID
from ..storage.billing_repo import load_subscriptions, snapshot
from ..storage.store import Store
from ..timeutil import from_us, to_us
from ..storage.billing_runs import Skip
from .late import PeriodUsage, pending_lines, period_usage
from .pricer import Pricer

#: Above this many active subscriptions the overview does not price every upcoming invoice on a
#: page load (the invoice run's work); its "this period" tiles then say so instead.
MAX_LIVE_PRICING = 5000
#: Invoiced periods of each subscription an account shows late usage for.
LATE_PERIODS = 6
ZERO = Decimal(0)


@dataclass
class Current:
    """One subscription now: its product, status, current period and upcoming invoice (if active; None
    with ``problem`` set when a meter value of the period cannot be priced)."""

    subscription: repo.Subscription
    product: repo.Product
    status: str
    period: Period | None
    upcoming: InvoiceDraft | None
    problem: UnbillableQuantity | None = None


@dataclass
class BillingAccount:
    customer_id: str
    customer: repo.Customer | None
    subscriptions: list[Current] = field(default_factory=list)
    attention: list[Skip] = field(default_factory=list)  # periods invoice runs could not price (account() only)
    late: list[PeriodUsage] = field(default_factory=list)  # invoiced periods with usage pending adjustment

    @property
    def problems(self) -> list[Current]:
        return [c for c in self.subscriptions if c.problem is not None]

    def amount_due(self) -> dict[str, Decimal]:
        """Upcoming totals so far, per currency."""
        out: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for c in self.subscriptions:
            if c.upcoming is not None:
                out[c.upcoming.currency] += c.upcoming.total
        return dict(out)


@dataclass
class MonthTotals:
    start: datetime
    billed: dict[str, dict[str, Decimal]]  # currency -> {"finalized": …, "draft": …}
    invoices: int


@dataclass
class MoneyOverview:
    """The overview's money: last month billed, this period so far, and 12 months of billed revenue."""

    last_month: MonthTotals
    recurring: dict[str, Decimal] | None  # fixed fees of the current periods (None: too many to price live)
    usage: dict[str, Decimal] | None  # usage so far this period
    active: int
    months: list[MonthTotals]


def month_floor(at: datetime) -> datetime:
    return at.astimezone(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class BillingViews:
    def __init__(self, store: Store):
        self.store = store

    def _now(self, at: datetime | None) -> datetime:
        return at if at is not None else from_us(self.store.now())

    def current(self, conn, subs: list[repo.Subscription], at: datetime) -> list[Current]:
        """Each subscription's state at ``at``, upcoming invoices priced together on ``conn``."""
        pricer = Pricer(conn)
        active: list[tuple[repo.Subscription, Period]] = []
        for sub in subs:
            if sub.ends is None or at < sub.ends:
                active.append((sub, period_at(sub.start, sub.anchor, sub.cycle, max(at, sub.start))))
        pricer.prefetch(active, upto=at)
        periods = {sub.id: period for sub, period in active}
        carry = adj_repo.carryable(conn, list(periods))
        out = []
        for sub in subs:
            period = periods.get(sub.id)
            state = Current(sub, pricer.product(sub.environment, sub.product_id), sub.status(to_us(at)), period, None)
            if period is not None:
                try:  # one subscription's unpriceable usage never breaks the others (nor the page)
                    draft = pricer.draft(sub, period, upto=at)
                except UnbillableQuantity as exc:
                    state.problem = exc
                else:
                    pending = pending_lines(carry.get(sub.id, []), to_us(period.start))
                    state.upcoming = draft.with_lines(pending) if pending else draft
            out.append(state)
        return out

    def accounts(self, env: str, customers: list[repo.Customer], at: datetime | None = None) -> list[BillingAccount]:
        """The accounts of ``customers`` (a page of them), in their order."""
        at = self._now(at)
        with snapshot(self.store) as conn:
            subs = load_subscriptions(conn, env, [c.id for c in customers])
            states = self.current(conn, subs, at)
        by_customer: dict[str, list[Current]] = defaultdict(list)
        for state in states:
            by_customer[state.subscription.customer_id].append(state)
        return [BillingAccount(c.id, c, by_customer.get(c.id, [])) for c in customers]

    def account(self, env: str, customer_id: str, at: datetime | None = None) -> BillingAccount | None:
        """One customer's account; None when it has neither a billing record nor a subscription."""
        at = self._now(at)
        with snapshot(self.store) as conn:
            customer = repo.customers_by_id(conn, env, [customer_id]).get(customer_id)
            subs = load_subscriptions(conn, env, [customer_id])
            if customer is None and not subs:
                return None
            account = BillingAccount(customer_id, customer, self.current(conn, subs, at),
                              runs_repo.open_skips(conn, env, customer_id))
        for sub in subs:
            _, periods = period_usage(self.store, env, sub.id, LATE_PERIODS)
            account.late.extend(p for p in periods if p.pending or p.error)
        return account

    def money(self, env: str, at: datetime | None = None, months: int = 12) -> MoneyOverview:
        at = self._now(at)
        this_month = month_floor(at)
        first = add_months(this_month, -(months - 1))
        buckets = {to_us(add_months(first, i)): MonthTotals(add_months(first, i), {}, 0) for i in range(months + 1)}
        last = MonthTotals(add_months(this_month, -1), {}, 0)
        with snapshot(self.store) as conn:
            rows = inv_repo.totals_by_period(conn, env, to_us(min(first, last.start)))
            subs = [s for s in load_subscriptions(conn, env) if s.ends is None or at < s.ends]
            states = self.current(conn, subs, at) if len(subs) <= MAX_LIVE_PRICING else None
        for start_us, currency, status, total, count in rows:
            if status == VOID:
                continue
            month = to_us(month_floor(from_us(start_us)))
            for bucket in (buckets.get(month), last if month == to_us(last.start) else None):
                if bucket is not None:
                    per = bucket.billed.setdefault(currency, {"finalized": ZERO, "draft": ZERO})
                    per[status] = per.get(status, ZERO) + Decimal(total)
                    bucket.invoices += count
        recurring = usage = None
        if states is not None:
            recurring, usage = defaultdict(lambda: ZERO), defaultdict(lambda: ZERO)
            for s in states:
                for line in s.upcoming.lines if s.upcoming else ():
                    (recurring if line.kind == "fixed" else usage)[s.upcoming.currency] += line.amount
            recurring, usage = dict(recurring), dict(usage)
        series = [buckets[k] for k in sorted(buckets) if buckets[k].start <= this_month]
        return MoneyOverview(last, recurring, usage, len(subs), series)
