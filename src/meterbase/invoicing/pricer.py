"""``Pricer``: the one way a period of a subscription becomes an ``InvoiceDraft``.

Plan segments of the period (products looked up once per pricer) priced over meter quantities
(meters looked up once per pricer). A quantity comes from, in order: totals of *every* customer
for a window shared by many due periods (``usage.meter_totals``, filled by ``prefetch``), one
customer's total fetched by ``prefetch`` (the windows of all such customers batched per meter by
``usage_batch.meter_totals_many``), or a ``usage.meter_total`` query (all through the event store,
``meterbase.eventstore``) on the pricer's
connection. The single-invoice paths (preview, create, finalize) price on their own transaction's
connection; the invoice run prefetches everything in one read transaction and then prices from
memory (``detach``), so all its invoices see one snapshot of usage and plans.

**Line sources.** A draft is the plan's lines (fixed fees and usage, ``billing.invoice.assemble``)
followed by the lines of each *line source* of the pricer, in order. A source is any object with
``prefetch(pricer, due, upto)`` (load in the run's snapshot what ``lines`` will need; may do nothing)
and ``lines(pricer, sub, period, upto) -> list[InvoiceLine]``. ``SOURCES`` lists the factories of the
sources every ``Pricer`` gets by default (a domain that adds lines to invoices appends its factory
there); ``Pricer(conn, sources=[…])`` overrides them.
The default source is :class:`.line_sources.LineSources`: the customer's policy overage and credits lines
(prefetched with the rest).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Callable, Protocol, Sequence

from ..billing.invoice import InvoiceDraft, InvoiceLine, Segment, assemble, usage_windows
from ..billing.periods import Period
from ..meters.aggregate import Partial
from ..meters.model import Meter
from ..storage import billing_repo as repo
from ..storage import meters_repo
from ..storage.sql_event_store import event_store_for
from ..timeutil import from_us, to_us
from .line_sources import LineSources

ZERO = Decimal(0)
#: A window needed by at least this many customers is read for every customer in one pass. That
#: pass reads the rollups of all customers with usage of the meter, so it pays off once the window
#: is shared by a fair number of the customers that have usage; rarer windows are read per customer.
SHARED_WINDOW_MIN = 50

#: Distinct drafts remembered for reuse (bounds the memory a long run keeps).
MEMO_SIZE = 4096

WindowKey = tuple[str, int, int]  # (meter_id, start_us, end_us)


class LineSource(Protocol):
    """Adds lines to a period's draft after the plan's own (see the module docstring)."""

    def prefetch(self, pricer: "Pricer", due: list[tuple[repo.Subscription, Period]],
                 upto: datetime | None) -> None: ...

    def lines(self, pricer: "Pricer", sub: repo.Subscription, period: Period,
              upto: datetime | None) -> list[InvoiceLine]: ...


#: Factories of the line sources every ``Pricer`` starts with (in order).
SOURCES: list[Callable[[], LineSource]] = [LineSources]


class Pricer:
    def __init__(self, conn, sources: Sequence[LineSource] | None = None):
        self._conn = conn
        self.sources: list[LineSource] = [make() for make in SOURCES] if sources is None else list(sources)
        self._products: dict[tuple[str, str], repo.Product] = {}
        self._meters: dict[tuple[str, str], Meter] = {}
        self._shared: dict[WindowKey, dict[str, Partial]] = {}  # every customer's total
        self._single: dict[tuple[WindowKey, str], Partial] = {}  # one customer's total
        self._drafts: dict[tuple, InvoiceDraft] = {}

    @property
    def conn(self):
        if self._conn is None:
            raise RuntimeError("this pricer is detached from its transaction and lacks data it did not prefetch")
        return self._conn

    def detach(self) -> None:
        """Forget the connection (its transaction is over): from now on price from prefetched data only."""
        self._conn = None

    def product(self, env: str, product_id: str) -> repo.Product:
        key = (env, product_id)
        if key not in self._products:
            self._products[key] = repo.get_product(self.conn, env, product_id)
        return self._products[key]

    def meter(self, env: str, meter_id: str) -> Meter:
        key = (env, meter_id)
        if key not in self._meters:
            self._meters[key] = meters_repo.get_meter(self.conn, env, meter_id)
        return self._meters[key]

    def segments(self, sub: repo.Subscription, period: Period) -> list[Segment]:
        """The plans in force over ``period``, from the subscription's plan history."""
        out: list[Segment] = []
        bounds = [from_us(eff) for eff, _, _ in sub.segments] + [None]
        for (_, pid, qty), start, end in zip(sub.segments, bounds, bounds[1:]):
            lo, hi = max(start, period.start), period.end if end is None else min(end, period.end)
            if lo < hi:
                out.append(Segment(self.product(sub.environment, pid).plan, lo, hi, qty))
        return out

    def draft(self, sub: repo.Subscription, period: Period, upto: datetime | None = None) -> InvoiceDraft:
        """Price ``period`` with usage up to ``upto`` (default: the whole period): the plan's lines, then
        each line source's."""
        draft = self.plan_draft(sub, period, upto)
        extra = [line for source in self.sources for line in source.lines(self, sub, period, upto)]
        return draft.with_lines(extra) if extra else draft

    def plan_draft(self, sub: repo.Subscription, period: Period, upto: datetime | None = None) -> InvoiceDraft:
        """The plan's lines of ``period`` alone (fixed fees and usage), without any line source's.

        Drafts are immutable and ``assemble`` is a pure function of the plans, bounds and
        quantities, so periods that agree on all of them (say, every customer of a plan without
        usage) share one draft object."""
        segments = self.segments(sub, period)
        quantities = self.quantities(sub, segments, upto)
        key = (sub.environment, period, tuple((s.plan.product_id, s.start, s.end, s.quantity) for s in segments),
               tuple(str(q) for q in quantities.values()))  # str: 5.0 and 5.00 are equal but print differently
        draft = self._drafts.get(key)
        if draft is None:
            if len(self._drafts) >= MEMO_SIZE:
                self._drafts.clear()
            draft = self._drafts[key] = assemble(period, segments, quantities)
        return draft

    def quantities(self, sub: repo.Subscription, segments: list[Segment],
                   upto: datetime | None = None) -> dict[tuple[str, datetime, datetime], Decimal]:
        """Each usage window of ``segments`` (``usage_windows``' order) -> the meter's value there (0 when
        it has none), with usage up to ``upto``."""
        quantities = {}
        for meter_id, start, end in usage_windows(segments):
            stop = end if upto is None else min(end, upto)
            value = self._total(sub, meter_id, to_us(start), to_us(stop)) if start < stop else ZERO
            quantities[(meter_id, start, end)] = value
        return quantities

    def _total(self, sub: repo.Subscription, meter_id: str, start: int, end: int) -> Decimal:
        meter = self.meter(sub.environment, meter_id)
        key = (meter_id, start, end)
        shared = self._shared.get(key)
        if shared is not None:
            partial = shared.get(sub.customer_id) or Partial()
        else:
            partial = self._single.get((key, sub.customer_id))
            if partial is None:
                partial = event_store_for(self.conn).meter_total(self.conn, meter, start, end, sub.customer_id)
        value = partial.value(meter.aggregation)
        return value if value is not None else ZERO

    def prefetch(self, due: list[tuple[repo.Subscription, Period]], upto: datetime | None = None) -> None:
        """Load the products, meters and quantities ``draft`` will need for ``due`` (whole periods, or
        with ``upto`` the usage so far, as ``draft(…, upto)`` asks for it)."""
        needed: dict[tuple[str, WindowKey], set[str]] = defaultdict(set)
        for sub, period in due:
            for meter_id, start, end in usage_windows(self.segments(sub, period)):
                stop = end if upto is None else min(end, upto)
                if start < stop:
                    needed[(sub.environment, (meter_id, to_us(start), to_us(stop)))].add(sub.customer_id)
        single: dict[tuple[str, str], list[tuple[WindowKey, str]]] = defaultdict(list)  # (env, meter) -> windows
        for (env, key), customers in needed.items():
            meter = self.meter(env, key[0])
            if len(customers) >= SHARED_WINDOW_MIN:
                self._shared[key] = event_store_for(self.conn).meter_totals(self.conn, meter, key[1], key[2])
            else:
                single[(env, key[0])].extend((key, customer_id) for customer_id in customers)
        for (env, meter_id), wanted in single.items():
            totals = event_store_for(self.conn).meter_totals_many(self.conn, self.meter(env, meter_id),
                                                                  [(c, k[1], k[2]) for k, c in wanted])
            self._single.update(zip(wanted, totals))
        for source in self.sources:
            source.prefetch(self, due, upto)
