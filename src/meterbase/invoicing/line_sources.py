"""Invoice lines from other domains: the customer's money that rides on a subscription's invoice.

Besides its plan's fees and priced meters (``billing.invoice.assemble``), a period's invoice carries:

* **policy overage** (:mod:`.lines_policy`) — soft-limit overage ``allow()`` consumed, priced as the calls
  were (``policy.billing``);
* **credits** (:mod:`.lines_credits`) — credits applied, credit overage charged (``invoice_at_billing``) and a
  deficit carried (``carry_deficit``);
* **wallet payments** (:mod:`.lines_wallet`) — added when the invoice is finalized, not here.

**Which invoice carries them.** This money belongs to the customer, not to one subscription. Each item has an
instant — a policy period's last instant, the instant before the cycle end an overage was charged at, the
instant credits were applied — and goes on the invoice of the customer's :func:`carrier` at that instant (the
earliest-started subscription running then, in the item's currency when it has one), for the billing period
containing it. So every item is on exactly one invoice whatever the subscriptions' anchors, and an item is
billed once its instant is inside an invoiced period: a policy period is billed in the billing period it ends in,
complete (anchor the policy customer at the subscription's anchor with the product's cycle and the two
coincide). A customer without a subscription has no invoice: their overage stays listed by the policy and
credits routes.

:class:`LineSources` is what the ``Pricer`` asks: per (subscription, period), from its connection, or prefetched
for a whole invoice run in its snapshot (a few queries per environment find the customers that have any such
money; only theirs are read further).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Callable, Iterable

from ..billing.invoice import InvoiceLine
from ..billing.periods import Period
from ..storage import billing_repo, credits_repo, policy_repo
from ..storage.billing_repo import Subscription
from ..timeutil import to_us
from . import lines_credits, lines_policy

Key = tuple[str, int, int | None]  # (subscription id, period start µs, upto µs)


def carrier(subs: Iterable[Subscription], at: int, currency: str | None,
            currency_of: Callable[[Subscription], str]) -> Subscription | None:
    """The subscription whose invoices carry the customer's money at instant ``at`` (µs): the earliest-started
    subscription running then (``start ≤ at < ends``), in ``currency`` when given; ties by id."""
    running = [s for s in subs if s.start_at <= at and (s.ends_at is None or at < s.ends_at)
               and (currency is None or currency_of(s) == currency)]
    return min(running, key=lambda s: (s.start_at, s.id)) if running else None


class Context:
    """What one (subscription, period) needs: the connection, the customer's subscriptions, the period's bounds."""

    def __init__(self, pricer, sub: Subscription, period: Period, upto: datetime | None, subs: list[Subscription]):
        self.pricer, self.conn, self.sub, self.subs = pricer, pricer.conn, sub, subs
        self.start, self.end = to_us(period.start), to_us(period.end)
        self.upto = None if upto is None else min(to_us(upto), self.end)
        self.currency = self.currency_of(sub)

    def currency_of(self, sub: Subscription) -> str:
        return self.pricer.product(sub.environment, sub.product_id).plan.currency

    def carries(self, at: int, currency: str | None = None) -> bool:
        """Does this subscription's invoice carry an item of instant ``at`` (in ``currency``)?"""
        if not self.start <= at < self.end:
            return False
        found = carrier(self.subs, at, currency, self.currency_of)
        return found is not None and found.id == self.sub.id

    def product_at(self, at: int) -> str:
        """The product in force at ``at`` (the plan segment containing it)."""
        pid = self.sub.segments[0][1] if self.sub.segments else self.sub.product_id
        for effective, product_id, _ in self.sub.segments:
            if effective <= at:
                pid = product_id
        return pid


class LineSources:
    """The extra lines of each priced period; a run prefetches them while its snapshot is open."""

    def __init__(self):
        self._lines: dict[Key, tuple[InvoiceLine, ...]] = {}
        self._who: dict[tuple[str, int, int], tuple[set[str], set[str]]] = {}  # (env, lo, hi) -> customers
        self._subs: dict[tuple[str, str], list[Subscription]] = {}

    def _interesting(self, conn, env: str, start: int, end: int) -> tuple[set[str], set[str]]:
        """Customers with policy counters ending in ``(start, end]``, and customers with credit balances."""
        for (e, lo, hi), found in self._who.items():
            if e == env and lo <= start and end <= hi:
                return found
        found = self._who[(env, start, end)] = (policy_repo.customers_with_counters_ending(conn, env, start, end),
                                                credits_repo.customers_with_balances(conn, env))
        return found

    def _customer_subs(self, conn, env: str, customers: set[str]) -> None:
        missing = sorted(c for c in customers if (env, c) not in self._subs)
        if not missing:
            return
        by_customer: dict[str, list[Subscription]] = defaultdict(list)
        for s in billing_repo.load_subscriptions(conn, env, missing):
            by_customer[s.customer_id].append(s)
        for c in missing:
            self._subs[(env, c)] = by_customer.get(c, [])

    def prefetch(self, pricer, due: list[tuple[Subscription, Period]], upto: datetime | None = None) -> None:
        """Compute the lines of every due period now, on the pricer's (snapshot) connection."""
        if not due:
            return
        lo = min(to_us(p.start) for _, p in due)
        hi = max(to_us(p.end) for _, p in due)
        by_env: dict[str, set[str]] = defaultdict(set)
        for sub, _ in due:
            by_env[sub.environment].add(sub.customer_id)
        for env, customers in by_env.items():
            policy_customers, credit_customers = self._interesting(pricer.conn, env, lo, hi)
            self._customer_subs(pricer.conn, env, customers & (policy_customers | credit_customers))
        for sub, period in due:
            self.lines(pricer, sub, period, upto)

    def lines(self, pricer, sub: Subscription, period: Period, upto: datetime | None = None) -> tuple[InvoiceLine, ...]:
        key = (sub.id, to_us(period.start), None if upto is None else to_us(upto))
        found = self._lines.get(key)
        if found is not None:
            return found
        conn = pricer.conn
        env, customer = sub.environment, sub.customer_id
        policy_customers, credit_customers = self._interesting(conn, env, *key[1:2], to_us(period.end))
        out: list[InvoiceLine] = []
        if customer in policy_customers or customer in credit_customers:
            self._customer_subs(conn, env, {customer})
            ctx = Context(pricer, sub, period, upto, self._subs[(env, customer)])
            if customer in policy_customers:
                out += lines_policy.lines(ctx)
            if customer in credit_customers:
                out += lines_credits.lines(ctx)
        self._lines[key] = found = tuple(out)
        return found
