"""Real-time deduction of credits from metered events: meters paid with credits (``billing.credit_links``).

A product's meter line with ``credit_entitlement_id`` + ``meter_units_per_credit`` makes the events of that meter
(its event name and filter; ``count``: 1 unit per event, ``sum``: the value of its key) deduct credits from the
customer's balance as they arrive, for customers whose subscription has that product at the event's timestamp.

**A deduction consumer, crash-safe.** :func:`consume` reads the events stored after the environment's durable
watermark (``storage.credit_feed``: up to a high water below which every event is committed) and, in *one*
transaction per chunk, accrues each event's units (``credits.accrual``, source ``meter:<id>``: whole credits
are deducted as the running total crosses them, nothing finer than the precision is lost), deducts them
(``credits.ledger.deduct``, FIFO then overage; usage that already happened is never refused — what the
overage rules would refuse is recorded as overage, so ``allow()`` refuses what comes next) with the event id in
the entry's idempotency key, and advances the watermark. A crash before the commit redoes the chunk, after it
nothing is redone: no event is lost or deducted twice, and concurrent consumers take turns on the watermark
row. It runs in the server (:class:`DeductionWorker`, a thread of ``meterbase serve``, every
``MB_CREDIT_DEDUCT_INTERVAL`` seconds) and in ``meterbase credits settle --loop``.

**Exact reads.** Until the consumer has run, events already stored are not yet in the ledger; a balance read
(:func:`pending_credits`, used by ``CreditService.balance``) adds what they will deduct, computed the same way
without writing. ``allow()`` decides on the ledger as written (the consumer's lag, a second by default).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from ..billing.credit_links import MeterCredits
from ..events.values import to_decimal
from ..meters.aggregate import matches
from ..meters.model import Meter
from ..storage import billing_repo, credit_feed, credits_repo as repo, meters_repo
from ..storage.billing_repo import Subscription
from ..storage.credit_feed import FeedEvent
from ..storage.store import Store
from . import accrual, ledger
from .amounts import ZERO
from .operations import MAX_KEY, change

log = logging.getLogger("meterbase.credits")
CHUNK = 500


@dataclass(frozen=True)
class Link:
    """A product's meter paid with credits."""

    product_id: str
    meter: Meter
    credits: MeterCredits

    @property
    def source(self) -> str:
        return f"meter:{self.meter.id}"


def units_of(meter: Meter, metadata: dict) -> Decimal:
    """An event's units on a meter it matched: 1 for ``count``, the key's value for ``sum`` (a missing,
    non-numeric or negative value deducts nothing: credits are never given back by events)."""
    if meter.aggregation == "count":
        return Decimal(1)
    value = to_decimal(metadata.get(meter.key))
    return ZERO if value is None or value < 0 else value


class Links:
    """One environment's credit-paid meters by event name, and its customers' subscriptions (read once each)."""

    def __init__(self, conn, environment: str):
        self.environment = environment
        self.by_name: dict[str, list[Link]] = defaultdict(list)
        for env, pid in credit_feed.credit_products(conn):
            if env != environment:
                continue
            plan = billing_repo.get_product(conn, env, pid).plan
            for line in plan.usage:
                if line.credits is not None:
                    meter = meters_repo.get_meter(conn, env, line.meter_id)
                    self.by_name[meter.event_name].append(Link(pid, meter, line.credits))
        self._subs: dict[str, list[Subscription]] = {}

    @property
    def names(self) -> list[str]:
        return sorted(self.by_name)

    def subscriptions(self, conn, customer_id: str) -> list[Subscription]:
        found = self._subs.get(customer_id)
        if found is None:
            found = self._subs[customer_id] = billing_repo.load_subscriptions(conn, self.environment, [customer_id])
        return found

    def of(self, conn, ev: FeedEvent) -> list[Link]:
        """The links an event deducts through: its meter matches, and a subscription of its customer has the
        link's product at the event's timestamp."""
        found = [link for link in self.by_name.get(ev.event_name, ()) if matches(link.meter, ev.event_name, ev.metadata)]
        if not found:
            return []
        products = {_product_at(s, ev.ts) for s in self.subscriptions(conn, ev.customer_id)}
        return [link for link in found if link.product_id in products]


def _product_at(sub: Subscription, ts: int) -> str | None:
    if ts < sub.start_at or (sub.ends_at is not None and ts >= sub.ends_at):
        return None
    found = None
    for effective, product_id, _ in sub.segments:
        if effective <= ts:
            found = product_id
    return found


def _key(link: Link, ev: FeedEvent) -> str:
    key = f"sys:meter:{link.meter.id}:{ev.event_id}"
    return key if len(key) <= MAX_KEY else "sys:meter:" + hashlib.sha256(key.encode()).hexdigest()


def _deduct(conn, env: str, link: Link, ev: FeedEvent, now: int) -> None:
    ent = repo.get_entitlement(conn, env, link.credits.entitlement_id)
    if ent is None or ent.deleted_at is not None:
        return  # a deleted entitlement takes no ledger writes
    units = units_of(link.meter, ev.metadata)
    if units <= 0:
        return
    repo.lock_balance(conn, env, ent.id, ev.customer_id, now)
    acc = accrual.rebase(repo.get_accrual(conn, env, ent.id, ev.customer_id, link.source), link.credits.units_per_credit)
    acc, due = accrual.step(acc, units, ent.precision)
    repo.save_accrual(conn, env, ent.id, ev.customer_id, link.source, acc, now)
    if due <= 0:
        return
    key = _key(link, ev)

    def op(acct, e):
        return ledger.deduct(acct, e, due, now, force=True, key=key, reason=f"{link.meter.spec.name} usage",
                             reference=("event", ev.event_id),
                             metadata={"meter_id": link.meter.id, "event_id": ev.event_id, "units": format(units, "f")})

    change(conn, env, ent.id, ev.customer_id, now, op, key=key,
           request={"kind": "metered", "event_id": ev.event_id, "meter_id": link.meter.id})


def _chunk(store: Store, env: str, upto: int, limit: int) -> int:
    """Deduct the credits of the next events up to ``upto`` and advance the watermark: one transaction."""
    def body(conn) -> int:
        now = store.now()
        mark = credit_feed.lock_watermark(conn, env, now)
        if mark >= upto:
            return -1
        links = Links(conn, env)
        events = credit_feed.events_after(conn, env, mark, upto, links.names, limit) if links.names else []
        for ev in events:
            for link in links.of(conn, ev):
                _deduct(conn, env, link, ev, now)
        credit_feed.set_watermark(conn, env, events[-1].seq if len(events) == limit else upto, now)
        return len(events)

    with store.write() as conn:
        return body(conn)


def consume(store: Store, environment: str | None = None, limit: int = CHUNK) -> int:
    """Deduct the credits of every event stored so far (environments with credit-paid meters); returns events
    read. Idempotent and safe to run concurrently (see the module docstring)."""
    with store.read() as conn:
        envs = sorted({env for env, _ in credit_feed.credit_products(conn)})
    done = 0
    for env in envs:
        if environment is not None and env != environment:
            continue
        with store.read() as conn:  # idle rounds take no write lock
            if credit_feed.latest_seq(conn, env) <= credit_feed.watermark(conn, env):
                continue
        with store.write() as conn:
            upto = credit_feed.high_water(conn, env)
        while True:
            n = _chunk(store, env, upto, limit)
            if n < 0:
                break
            done += n
            if n < limit:
                break
    return done


def pending_credits(conn, env: str, entitlement_id: str, customer_id: str) -> Decimal:
    """Credits the events stored after the watermark will deduct from this balance (computed, not written)."""
    links = Links(conn, env)
    mine = [link for group in links.by_name.values() for link in group if link.credits.entitlement_id == entitlement_id]
    ent = repo.get_entitlement(conn, env, entitlement_id)
    if not mine or ent is None or ent.deleted_at is not None:
        return ZERO
    mark = credit_feed.watermark(conn, env)
    names = sorted({link.meter.event_name for link in mine})
    accs: dict[str, accrual.Accrual] = {}
    total, after = ZERO, mark
    while True:
        events = credit_feed.events_after(conn, env, after, 2**62, names, CHUNK, customer_id)
        for ev in events:
            for link in links.of(conn, ev):
                if link.credits.entitlement_id != entitlement_id:
                    continue
                acc = accs.get(link.source) or accrual.rebase(
                    repo.get_accrual(conn, env, entitlement_id, customer_id, link.source), link.credits.units_per_credit)
                accs[link.source], due = accrual.step(acc, units_of(link.meter, ev.metadata), ent.precision)
                total += due
        if len(events) < CHUNK:
            return total
        after = events[-1].seq


class DeductionWorker:
    """A daemon thread that runs :func:`consume` every ``interval`` seconds (the server's consumer)."""

    def __init__(self, store: Store, interval: float = 1.0):
        self.store, self.interval = store, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="meterbase-credit-deductions", daemon=True)

    def start(self) -> "DeductionWorker":
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                consume(self.store)
            except Exception:  # noqa: BLE001 - the next round retries; nothing half-written (one transaction)
                log.exception("metered credit deductions failed; retrying in %.1fs", self.interval)
