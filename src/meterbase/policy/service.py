"""The durable policy engine: Limitr semantics over the Store's database.

:class:`PolicyService` binds one environment of a :class:`~meterbase.storage.Store` to a policy and
answers ``ensure_customer`` / ``set_plan`` / ``check`` / ``allow`` / ``remaining`` / ``value`` /
``limit`` with the pure core (:mod:`.engine`) over usage kept in the same database as the events
(its read side, cached, is :class:`~.reads.PolicyReads`):

* **Periods are arithmetic.** A counter row per (customer, entitlement, period start); the period is
  :func:`meterbase.periods.current_period` of the customer's anchor and *now* (the injectable clock), so a new
  period simply starts a new row and a reset cannot be missed. The ``reset`` event fires lazily, in
  the transaction that creates a new period's counter when an earlier period's counter exists. Spend caps
  count per (customer, cap, cap period) the same way.
* **allow() is one transaction**: lock the counter (``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR
  UPDATE`` on PostgreSQL) and then the spend caps it moves, decide, add what was consumed and what the call
  was worth (``price_diff``, ``overage_price``, ``overhead_cost`` sums on the counter), record a usage event
  through the ordinary ingest path (so meters, the dashboard and invoices count the same numbers), draw from a
  covering balance when one is plugged in (:mod:`.covering`), queue webhooks in the outbox (when the environment
  has endpoints: the decision's first read says so), and record the
  decision under the idempotency key. In-process handlers run after commit. On SQLite, concurrent ``allow()``
  calls of one process share that transaction's commit (``Store.batched_write``): each is decided in turn, in
  its own savepoint, after the ones before it.
* **The policy document** is stored per environment (versioned). Pass a :class:`Policy` to pin one in
  memory, a YAML/JSON text to publish it (a no-op when it is already active), or nothing to follow the
  environment's active document (picked up again whenever another process replaces it).
* Every write runs in ``PolicyCache.writing`` (``allow``: ``PolicyCache.run_write``) so other processes and
  this one forget what changed; ``allow`` never trusts the cache: it reads and locks in its own transaction.

The usage event of an ``allow`` that moved usage: ``event_name`` = the credit's name, metadata ``{entitlement,
amount, overage, plan, price_diff, overage_price, overhead_cost}`` (amounts exact decimal strings in the
credit's units, prices in the policy's money; a refund's amount is negative), event id derived from the
idempotency key when there is one.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any, Callable, Literal

import orjson

from ..errors import Conflict, NotFound, ValidationError
from ..events.model import Event
from ..events.validate import fingerprint
from ..exact import WIDE
from ..storage import audit, outbox, policy_caps_repo as caps_repo, policy_repo as repo
from ..storage.store import Store, ingest_events_in
from ..timeutil import Clock, from_us, iso, to_us
from ..units import Amount
from . import engine
from .billing import overage_lines
from .caps import CapState
from .covering import CoveringBalance
from .document import Policy, load_policy
from .events import PolicyEvent, Reset
from .overage import OverageLine
from .reads import PolicyReads
from .results import Outcome, PolicyCustomer, PolicyVersion, payload_json, text
from .state import Resolved, amount_text, event_id, parse_cached, require_id

log = logging.getLogger("meterbase.policy")

Handler = Callable[[str, str], Any]
"""``handler(event_key, json_payload)``: ``meter-changed``, ``meter-overage``, ``limit-reached``, ``cap-limit``,
``cap-threshold-crossed`` or ``reset``."""

#: Webhook event types are the handler keys under this prefix (``policy.meter-overage`` ...).
WEBHOOK_PREFIX = "policy."
ZERO = Decimal(0)


class PolicyService(PolicyReads):
    """Limitr-style policy engine, durable in ``store``'s database, for one ``environment``.

    ``covering``: a :class:`~.covering.CoveringBalance` (the credit ledger) whose balance covers priced usage
    before it becomes overage; None (the default) covers nothing.
    """

    def __init__(
        self,
        store: Store,
        policy: Policy | str | None = None,
        *,
        environment: str = "test_mode",
        clock: Clock | None = None,
        format: Literal["yaml", "json"] = "yaml",
        covering: CoveringBalance | None = None,
    ):
        self.store = store
        self._cache = store.policy_cache  # shared by every service on the store (kept: the property costs a µs)
        self.environment = environment
        self.clock: Clock = clock or store.clock
        self.covering = covering
        self._pinned: Policy | None = None
        self._handlers: dict[str, Handler] = {}
        self._handlers_lock = threading.Lock()
        if isinstance(policy, Policy):
            self._pinned = policy
        elif isinstance(policy, str):
            self.set_policy(policy, format)
        elif policy is not None:
            raise TypeError("policy must be a Policy, a YAML/JSON document text, or None")

    # -- plumbing -----------------------------------------------------------------------------
    def now_us(self) -> int:
        return to_us(self.clock())

    def add_handler(self, name: str, fn: Handler) -> None:
        """Register ``fn(event_key, json_string)``, called after commit for every policy event (Limitr's addHandler)."""
        if not callable(fn):
            raise TypeError("handler must be callable")
        with self._handlers_lock:
            self._handlers[name] = fn

    def remove_handler(self, name: str) -> None:
        with self._handlers_lock:
            self._handlers.pop(name, None)

    def _fire(self, events: list[PolicyEvent]) -> None:
        if not events or not self._handlers:
            return
        with self._handlers_lock:
            handlers = list(self._handlers.items())
        for event in events:
            body = payload_json(event)
            for name, fn in handlers:
                try:
                    fn(event.name, body)
                except Exception:  # noqa: BLE001 - a failing handler must not undo a committed decision
                    log.exception("policy handler %r failed on %s", name, event.name)

    def _enqueue(self, conn, events: list[PolicyEvent], now: int) -> None:
        for event in events:
            outbox.enqueue(conn, self.environment, WEBHOOK_PREFIX + event.name, orjson.loads(payload_json(event)), now)

    # -- policy documents ---------------------------------------------------------------------
    def set_policy(self, source: str, format: Literal["yaml", "json"] = "yaml") -> PolicyVersion:
        """Validate and publish ``source`` as the environment's active policy (new version unless unchanged).

        Customers whose plan the new document no longer has keep their row; their check/allow calls
        fail with ``not_found`` (field ``plan``) until ``set_plan`` moves them.
        """
        if not isinstance(source, str):
            raise ValidationError("policy document must be text (YAML or JSON)", "policy")
        parsed = load_policy(source, format)
        with self._cache.writing(self.environment) as tx:
            doc, created = repo.publish_document(tx.conn, self.environment, source, format, self.now_us())
            if created:
                tx.changed()
                audit.record(tx.conn, self.environment, None, "policy.replaced", f"policy:v{doc.version}",
                             {"version": doc.version, "format": doc.format, "digest": doc.digest}, doc.created_at)
        if self._pinned is not None:
            self._pinned = parsed
        return PolicyVersion(self.environment, doc.version, doc.format, doc.source, from_us(doc.created_at), parsed, created)

    def get_policy(self, version: int | None = None) -> PolicyVersion:
        """The active (or given) stored document."""
        with self.store.read() as conn:
            doc = repo.get_document(conn, self.environment, version)
        if doc is None:
            raise NotFound(self._no_policy_message() if version is None else f"policy version {version} not found", "policy")
        policy = parse_cached(doc.digest, lambda: doc)
        return PolicyVersion(self.environment, doc.version, doc.format, doc.source, from_us(doc.created_at), policy)

    def policy_versions(self, limit: int = 100) -> list[dict]:
        with self.store.read() as conn:
            docs = repo.list_documents(conn, self.environment, limit)
        return [{"version": d.version, "format": d.format, "created_at": iso(from_us(d.created_at))} for d in docs]

    @property
    def policy(self) -> Policy:
        """The policy in force right now."""
        with self.store.read() as conn:
            return self._policy(conn)[1]

    def _policy(self, conn) -> tuple[int | None, Policy]:
        if self._pinned is not None:
            return None, self._pinned
        doc = repo.get_document(conn, self.environment)
        if doc is None:
            raise NotFound(self._no_policy_message(), "policy")
        return doc.version, parse_cached(doc.digest, lambda: doc)

    # -- customers ----------------------------------------------------------------------------
    def ensure_customer(self, customer_id: str, plan: str | None = None, *, anchor: datetime | None = None) -> PolicyCustomer:
        """Create the customer on ``plan`` (default plan when None) anchored at ``anchor`` (default: now).

        An existing customer is returned unchanged (like Limitr's ensureCustomer; use :meth:`set_plan`).
        """
        require_id(customer_id, "customer_id")
        now = self.now_us()
        with self._cache.writing(self.environment) as tx:
            _, policy = self._policy(tx.conn)
            plan_name = policy.plan(plan).name
            if repo.insert_customer(tx.conn, self.environment, customer_id, plan_name, now if anchor is None else _anchor(anchor), now):
                tx.changed(customer_id)
            row = repo.get_customer(tx.conn, self.environment, customer_id)
        return PolicyCustomer.from_row(row)

    def set_plan(
        self, customer_id: str, plan: str, *, reset_anchor: bool = False, anchor: datetime | None = None
    ) -> PolicyCustomer:
        """Move the customer to ``plan`` (creating them if needed).

        By default the anchor, and so the current period and its usage, are kept: usage already recorded
        this period counts against the new plan's limit of the same entitlement. ``reset_anchor=True``
        (or an explicit ``anchor``) starts new periods from that instant, so counters start again at 0.
        """
        require_id(customer_id, "customer_id")
        now = self.now_us()
        new_anchor = _anchor(anchor) if anchor is not None else (now if reset_anchor else None)
        with self._cache.writing(self.environment) as tx:
            _, policy = self._policy(tx.conn)
            plan_name = policy.plan(require_id(plan, "plan")).name
            tx.changed(customer_id)
            created = repo.insert_customer(tx.conn, self.environment, customer_id, plan_name, new_anchor or now, now)
            if not created:
                repo.update_customer(tx.conn, self.environment, customer_id, now, plan=plan_name, anchor=new_anchor)
            row = repo.get_customer(tx.conn, self.environment, customer_id)
        return PolicyCustomer.from_row(row)

    def get_customer(self, customer_id: str) -> PolicyCustomer | None:
        with self.store.read() as conn:
            row = repo.get_customer(conn, self.environment, customer_id)
        return None if row is None else PolicyCustomer.from_row(row)

    # -- allow ----------------------------------------------------------------------------------
    def allow(self, customer_id: str, entitlement: str, amount: Amount, *, idempotency_key: str | None = None) -> Outcome:
        """Decide and consume ``amount`` atomically (see the module docstring).

        A hard limit that ``amount`` does not fit refuses and consumes nothing (``limit-reached``), as does a
        spend cap it would cross (``cap-limit``); a soft limit consumes and reports the part newly past the limit
        as ``overage`` (``meter-overage``), an observe limit consumes and reports (``meter-changed``); a negative
        amount is a refund. Every answer carries the call's price. With ``idempotency_key``, a retry returns the
        first decision (``replayed=True``) without consuming again; reusing a key for a different customer,
        entitlement or amount is a ``Conflict``.
        """
        if amount is None:
            raise ValidationError("amount is required for allow (use check to test access)", "amount")
        if idempotency_key is not None:
            require_id(idempotency_key, "idempotency_key")
        text_of_amount = amount_text(amount)
        now = self.now_us()

        def decide(tx) -> tuple[Outcome, list[PolicyEvent]]:
            conn = tx.conn
            if idempotency_key is not None:
                earlier = repo.claim_allow(conn, self.environment, idempotency_key, customer_id, entitlement, text_of_amount, now)
                if earlier is not None:
                    if (earlier.customer_id, earlier.entitlement, earlier.amount) != (customer_id, entitlement, text_of_amount):
                        raise Conflict(
                            "idempotency_key was already used for a different customer, entitlement or amount",
                            "idempotency_key",
                        )
                    if earlier.decision is None:  # defensive: claims commit together with their decision
                        raise Conflict("a decision for this idempotency_key is still in progress", "idempotency_key")
                    return Outcome.from_dict(orjson.loads(earlier.decision), replayed=True), []
            require_id(customer_id, "customer_id")
            require_id(entitlement, "entitlement")
            state, r = self._load(conn, customer_id, entitlement, now)
            fired: list[PolicyEvent] = []
            if r.period is None:  # not in plan, or a boolean entitlement: nothing to count
                outcome = self._outcome(r, entitlement, engine.allow(r.entitlement, ZERO, amount, customer_id=customer_id))
            else:
                outcome, fired = self._allow_counted(conn, r, entitlement, amount, idempotency_key, now)
                if state.hooks:
                    self._enqueue(conn, fired, now)
                if outcome.consumed != 0:
                    tx.changed(customer_id)
            if idempotency_key is not None:
                repo.finish_allow(conn, self.environment, idempotency_key, orjson.dumps(outcome.to_dict()).decode())
            return outcome, fired

        # concurrent allow() calls share one commit on SQLite, each decided in turn in its own savepoint
        outcome, fired = self._cache.run_write(self.environment, decide)
        self._fire(fired)
        return outcome

    def _allow_counted(self, conn, r: Resolved, entitlement: str, amount: Amount, key: str | None, now: int):
        ent, credit = r.entitlement, r.credit
        lim = ent.limit
        cust = r.customer.customer_id
        start, end = r.period
        counter, created = repo.lock_counter(conn, self.environment, cust, entitlement, start, end, credit.name, lim.value, now)
        events: list[PolicyEvent] = []
        if created and end is not None:
            prev = repo.previous_counter(conn, self.environment, cust, entitlement, start)
            if prev is not None:
                events.append(Reset(
                    cust, entitlement, credit, prev.used, prev.limit_value if prev.limit_value is not None else lim.value,
                    period_start=from_us(prev.period_start),
                    period_end=None if prev.period_end is None else from_us(prev.period_end),
                ))
        spent = caps_repo.lock_caps(conn, self.environment, cust, {(c.name, p[0]): p[1] for c, p in r.caps}, now)
        caps = tuple(CapState(cap, spent[(cap.name, period[0])]) for cap, period in r.caps)
        decision = engine.allow(ent, counter.used, amount, customer_id=cust, plan=r.plan.name, caps=caps,
                                covering=self._covering(conn, r, now, for_update=True), billed=counter.overage)
        events.extend(decision.events)
        usage_event = None
        if decision.consumed != 0:
            repo.set_counter(conn, self.environment, cust, entitlement, start, usage=_added(counter.usage, decision),
                             limit_value=lim.value, now_us=now)
            caps_repo.set_caps(conn, self.environment, cust, {(c.name, p[0]): res.spent_after
                                                              for (c, p), res in _moved(r, decision)}, now)
            usage_event = self._record_usage(conn, r, entitlement, decision, key, now)
            if decision.covered_price > 0 and self.covering is not None:
                self.covering.draw(conn, self.environment, cust, credit, entitlement, decision.covered_price, usage_event,
                                   now=now)
        return self._outcome(r, entitlement, decision, usage_event), events

    def _record_usage(self, conn, r: Resolved, entitlement: str, decision: engine.Decision, key: str | None, now: int) -> str:
        cust, credit = r.customer.customer_id, r.credit
        metadata = {
            "entitlement": entitlement,
            "amount": text(decision.consumed),
            "overage": text(decision.overage),
            "plan": r.plan.name,
            "overhead_cost": text(decision.overhead_cost),
        }
        if decision.price_diff is not None:
            metadata["price_diff"] = text(decision.price_diff)
            metadata["overage_price"] = text(decision.overage_price)
        event_id_ = event_id(self.environment, key)
        event = Event(event_id_, cust, credit.name, now, metadata, fingerprint(cust, credit.name, now, metadata))
        result = ingest_events_in(conn, self.environment, [event], now)
        if result.ingested != 1:
            raise Conflict(f"usage event id {event_id_!r} already exists with other content", "idempotency_key")
        return event_id_

    # -- billing ----------------------------------------------------------------------------------
    def overage_lines(self, customer_id: str, start: datetime, end: datetime, currency: str = "USD") -> list[OverageLine]:
        """Soft-limit overage of periods starting in ``[start, end)``, priced with the recorded ``overage_price``
        of the calls (see :func:`.billing.overage_lines`)."""
        return overage_lines(self.store, self.environment, customer_id, start, end, currency, policy=self._pinned)


def _added(usage: repo.CounterTotals, d: engine.Decision) -> repo.CounterTotals:
    """A counter's totals after decision ``d`` (price sums stay None on a counter from before they existed)."""

    def plus(total: Decimal | None, part: Decimal | None) -> Decimal | None:
        return None if total is None else total + (part or ZERO)

    with localcontext(WIDE):
        return repo.CounterTotals(usage.used + d.consumed, usage.overage + d.overage, plus(usage.price, d.price_diff),
                      plus(usage.overage_price, d.overage_price), plus(usage.cost, d.overhead_cost))


def _moved(r: Resolved, d: engine.Decision):
    """``((cap, period), result)`` of the caps the decision moved."""
    results = {c.name: c for c in d.caps}
    return [((cap, period), results[cap.name]) for cap, period in r.caps if cap.name in results and results[cap.name].charge]


def _anchor(value: datetime) -> int:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError("anchor must be a timezone-aware datetime", "anchor")
    return to_us(value)

