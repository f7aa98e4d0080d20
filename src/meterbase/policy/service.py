"""The durable policy engine: Limitr semantics over the Store's database.

:class:`PolicyService` binds one environment of a :class:`~meterbase.storage.Store` to a policy and
answers ``ensure_customer`` / ``set_plan`` / ``check`` / ``allow`` / ``remaining`` / ``value`` /
``limit`` with the pure core (:mod:`.engine`) over usage kept in the same database as the events:

* **Periods are arithmetic.** A counter row per (customer, entitlement, period start); the period is
  :func:`.periods.current_period` of the customer's anchor and *now* (the injectable clock), so a new
  period simply starts a new row and a reset cannot be missed. The ``reset`` event fires lazily, in
  the transaction that creates a new period's counter when an earlier period's counter exists.
* **allow() is one transaction**: lock the counter (``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR
  UPDATE`` on PostgreSQL), decide, add what was consumed, record a usage event through the ordinary
  ingest path (so meters, the dashboard and invoices count the same numbers), queue webhooks in the
  outbox, and record the decision under the idempotency key. In-process handlers run after commit.
  On SQLite, concurrent ``allow()`` calls of one process share that transaction's commit
  (``Store.batched_write``): each is decided in turn, in its own savepoint, after the ones before it.
* **The policy document** is stored per environment (versioned). Pass a :class:`Policy` to pin one in
  memory, a YAML/JSON text to publish it (a no-op when it is already active), or nothing to follow the
  environment's active document (picked up again whenever another process replaces it).
* **Reads are cached.** ``check`` / ``status`` / ``remaining`` / ``value`` / ``limit`` / ``entitlement``
  answer from the Store's :class:`~meterbase.storage.policy_cache.PolicyCache` while it is provably
  fresh (exact on SQLite, bounded by notification delivery on PostgreSQL; see that module), else with
  one read query that refills it; a repeated ``check`` returns its memoised :class:`Outcome`. Every
  write here runs in ``PolicyCache.writing`` (``allow``: ``PolicyCache.run_write``) so other processes
  and this one forget what changed.
  ``allow`` never trusts the cache: it reads and locks in its own transaction.

The usage event of an ``allow`` that consumed something: ``event_name`` = the credit's name, metadata
``{entitlement, amount, overage, plan}`` (amounts as exact decimal strings in the credit's units), event
id derived from the idempotency key when there is one.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Hashable, Literal

import orjson

from ..errors import Conflict, NotFound, ValidationError
from ..events.model import MAX_ID_LEN, Event
from ..events.validate import fingerprint
from ..events.values import decimal_text
from ..ids import new_id
from ..pricing import Line
from ..storage import audit, outbox, policy_repo as repo
from ..storage.policy_cache import View
from ..storage.store import Store, ingest_events_in
from ..timeutil import Clock, from_us, iso, to_us
from . import engine
from .document import Credit, Entitlement, Plan, Policy, load_policy
from .events import PolicyEvent, Reset
from .overage import overage_line
from .periods import current_period
from .units import Amount

log = logging.getLogger("meterbase.policy")

Handler = Callable[[str, str], Any]
"""``handler(event_key, json_payload)``: ``meter-overage``, ``limit-reached`` or ``reset``."""

#: Webhook event types are the handler keys under this prefix (``policy.meter-overage`` ...).
WEBHOOK_PREFIX = "policy."
RUNNING_TOTAL_START = 0  # period_start of a limit that never resets
ZERO = Decimal(0)


# ---------------------------------------------------------------------------------------------- results


def _text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def payload_json(event: PolicyEvent) -> str:
    """The handler/webhook payload of ``event`` as JSON; amounts are exact decimal strings."""
    return orjson.dumps(event.payload(), default=_json_default).decode()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return decimal_text(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@dataclass(frozen=True)
class Customer:
    id: str
    plan: str
    anchor: datetime  # periods repeat from here
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: repo.CustomerRow) -> "Customer":
        return cls(row.customer_id, row.plan, from_us(row.anchor), from_us(row.created_at), from_us(row.updated_at))

    def to_dict(self) -> dict:
        return {
            "customer_id": self.id, "plan": self.plan, "anchor": iso(self.anchor),
            "created_at": iso(self.created_at), "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True)
class PolicyVersion:
    """A stored policy document; ``created`` is False when publishing found it already active."""

    environment: str
    version: int
    format: str
    source: str
    created_at: datetime
    policy: Policy
    created: bool = False

    def to_dict(self, include_source: bool = False) -> dict:
        out = {
            "environment": self.environment,
            "version": self.version,
            "format": self.format,
            "created_at": iso(self.created_at),
            "credits": sorted(self.policy.credits),
            "plans": {
                name: {"label": p.label, "period": p.period, "default": p.default, "entitlements": sorted(p.entitlements)}
                for name, p in self.policy.plans.items()
            },
        }
        if include_source:
            out["source"] = self.source
        return out


@dataclass(frozen=True)
class Outcome:
    """A decision of :meth:`PolicyService.check` / :meth:`~PolicyService.allow`, with its context.

    Truthy when allowed. ``decision`` is the pure core's :class:`~.engine.Decision`; ``event_id`` the usage
    event recorded (None if nothing was consumed); ``replayed`` is True when an idempotency key returned
    an earlier decision without consuming again.
    """

    decision: engine.Decision
    customer_id: str
    entitlement: str
    plan: str
    period_start: datetime | None = None
    period_end: datetime | None = None
    event_id: str | None = None
    replayed: bool = False
    policy_version: int | None = None
    credit: str | None = None
    mode: str | None = None

    def __bool__(self) -> bool:
        return self.decision.allowed

    allowed = property(lambda self: self.decision.allowed)
    reason = property(lambda self: self.decision.reason)
    used = property(lambda self: self.decision.used)
    used_after = property(lambda self: self.decision.used_after)
    amount = property(lambda self: self.decision.amount)
    consumed = property(lambda self: self.decision.consumed)
    limit = property(lambda self: self.decision.limit)
    overage = property(lambda self: self.decision.overage)
    remaining = property(lambda self: self.decision.remaining)
    events = property(lambda self: self.decision.events)

    def to_dict(self) -> dict:
        d = self.decision
        return {
            "allowed": d.allowed,
            "reason": d.reason,
            "customer_id": self.customer_id,
            "entitlement": self.entitlement,
            "plan": self.plan,
            "credit": self.credit,
            "mode": self.mode,
            "amount": _text(d.amount),
            "consumed": _text(d.consumed),
            "used": _text(d.used),
            "used_after": _text(d.used_after),
            "limit": _text(d.limit),
            "remaining": _text(d.remaining),
            "overage": _text(d.overage),
            "period_start": None if self.period_start is None else iso(self.period_start),
            "period_end": None if self.period_end is None else iso(self.period_end),
            "event_id": self.event_id,
            "replayed": self.replayed,
            "policy_version": self.policy_version,
        }

    @classmethod
    def from_dict(cls, data: dict, *, replayed: bool = False) -> "Outcome":
        decision = engine.Decision(
            allowed=data["allowed"], reason=data["reason"], used=Decimal(data["used"]), amount=_dec(data["amount"]),
            consumed=Decimal(data["consumed"]), limit=_dec(data["limit"]), overage=Decimal(data["overage"]),
        )
        ps, pe = data.get("period_start"), data.get("period_end")
        return cls(
            decision, data["customer_id"], data["entitlement"], data["plan"],
            period_start=None if ps is None else datetime.fromisoformat(ps.replace("Z", "+00:00")),
            period_end=None if pe is None else datetime.fromisoformat(pe.replace("Z", "+00:00")),
            event_id=data.get("event_id"), replayed=replayed, policy_version=data.get("policy_version"),
            credit=data.get("credit"), mode=data.get("mode"),
        )


@dataclass(frozen=True)
class Status:
    """An entitlement's standing this period (what a dashboard shows)."""

    customer_id: str
    entitlement: str
    plan: str
    included: bool
    credit: str | None
    mode: str | None
    used: Decimal | None
    limit: Decimal | None
    remaining: Decimal | None
    percent: Decimal | None
    overage: Decimal
    period_start: datetime | None
    period_end: datetime | None

    def to_dict(self) -> dict:
        return {
            "customer_id": self.customer_id, "entitlement": self.entitlement, "plan": self.plan,
            "included": self.included, "credit": self.credit, "mode": self.mode,
            "used": _text(self.used), "limit": _text(self.limit), "remaining": _text(self.remaining),
            "percent": _text(self.percent), "overage": _text(self.overage),
            "period_start": None if self.period_start is None else iso(self.period_start),
            "period_end": None if self.period_end is None else iso(self.period_end),
        }


@dataclass(frozen=True)
class OverageLine:
    """Billable soft-limit overage of one entitlement in one period, priced by the credit's model."""

    customer_id: str
    entitlement: str
    credit: str
    period_start: datetime | None
    period_end: datetime | None
    used: Decimal
    overage: Decimal
    line: Line | None  # None when the credit has no price

    def to_dict(self) -> dict:
        return {
            "customer_id": self.customer_id, "entitlement": self.entitlement, "credit": self.credit,
            "period_start": None if self.period_start is None else iso(self.period_start),
            "period_end": None if self.period_end is None else iso(self.period_end),
            "used": _text(self.used), "overage": _text(self.overage),
            "line": None if self.line is None else self.line.to_dict(),
        }


# ---------------------------------------------------------------------------------------------- helpers

_PARSED: "OrderedDict[str, Policy]" = OrderedDict()  # digest -> parsed policy, shared by every service
_PARSED_LOCK = threading.Lock()
_PARSED_MAX = 64


def _parse_cached(digest: str, load: Callable[[], repo.DocumentRow]) -> Policy:
    """The parsed document of ``digest``; ``load()`` fetches its text only when it was never parsed."""
    with _PARSED_LOCK:
        hit = _PARSED.get(digest)
        if hit is not None:
            _PARSED.move_to_end(digest)
            return hit
    doc = load()
    parsed = load_policy(doc.source, doc.format)  # type: ignore[arg-type]
    with _PARSED_LOCK:
        _PARSED[digest] = parsed
        while len(_PARSED) > _PARSED_MAX:
            _PARSED.popitem(last=False)
    return parsed


def _require_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} is required and must be a non-empty string", field)
    if len(value) > MAX_ID_LEN:
        raise ValidationError(f"{field} is longer than {MAX_ID_LEN} characters", field)
    return value


def _amount_text(amount: Any) -> str:
    if isinstance(amount, Decimal):
        return decimal_text(amount) if amount.is_finite() else str(amount)
    return str(amount)


def _event_id(environment: str, idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return new_id("pol")
    return "pol_" + hashlib.blake2b(f"{environment}\x00{idempotency_key}".encode(), digest_size=16).hexdigest()


_MEMO_MAX = 32  # memoised check outcomes per cached customer


def _memo_key(entitlement: str, amount: Any) -> Hashable | None:
    """Key of a memoised check; None for amounts not worth the risk (bool, float, NaN, other types)."""
    kind = type(amount)
    if amount is None or kind is int or kind is str or (kind is Decimal and amount.is_finite()):
        return entitlement, kind, amount  # equal Decimals (1.0, 1.00) give identical outcomes
    return None


def _in_period(period: tuple[int, int | None] | None, now: int) -> bool:
    return period is None or period[1] is None or period[0] <= now < period[1]


@dataclass
class _Resolved:
    customer: repo.CustomerRow
    version: int | None
    policy: Policy
    plan: Plan
    entitlement: Entitlement | None
    period: tuple[int, int | None] | None  # (start, end) in us; None: nothing to count (no limit)

    @property
    def credit(self) -> Credit | None:
        e = self.entitlement
        return e.limit.credit if e is not None and e.limit is not None else None


# ---------------------------------------------------------------------------------------------- service


class PolicyService:
    """Limitr-style policy engine, durable in ``store``'s database, for one ``environment``."""

    def __init__(
        self,
        store: Store,
        policy: Policy | str | None = None,
        *,
        environment: str = "test_mode",
        clock: Clock | None = None,
        format: Literal["yaml", "json"] = "yaml",
    ):
        self.store = store
        self._cache = store.policy_cache  # shared by every service on the store (kept: the property costs a µs)
        self.environment = environment
        self.clock: Clock = clock or store.clock
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
        if not events:
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
        policy = _parse_cached(doc.digest, lambda: doc)
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

    def _no_policy_message(self) -> str:
        return f"no policy loaded for environment {self.environment!r} (PUT /v1/policy or PolicyService.set_policy)"

    def _policy(self, conn) -> tuple[int | None, Policy]:
        if self._pinned is not None:
            return None, self._pinned
        doc = repo.get_document(conn, self.environment)
        if doc is None:
            raise NotFound(self._no_policy_message(), "policy")
        return doc.version, _parse_cached(doc.digest, lambda: doc)

    def _active(self, conn, state: repo.StateRow) -> tuple[int | None, Policy]:
        """:meth:`_policy` given the active document's version and digest (its text is read only when new)."""
        if self._pinned is not None:
            return None, self._pinned
        if state.version is None:
            raise NotFound(self._no_policy_message(), "policy")
        return state.version, _parse_cached(state.digest, lambda: repo.get_document(conn, self.environment, state.version))

    # -- customers ----------------------------------------------------------------------------
    def ensure_customer(self, customer_id: str, plan: str | None = None, *, anchor: datetime | None = None) -> Customer:
        """Create the customer on ``plan`` (default plan when None) anchored at ``anchor`` (default: now).

        An existing customer is returned unchanged (like Limitr's ensureCustomer; use :meth:`set_plan`).
        """
        _require_id(customer_id, "customer_id")
        now = self.now_us()
        with self._cache.writing(self.environment) as tx:
            _, policy = self._policy(tx.conn)
            plan_name = policy.plan(plan).name
            if repo.insert_customer(tx.conn, self.environment, customer_id, plan_name, now if anchor is None else _anchor(anchor), now):
                tx.changed(customer_id)
            row = repo.get_customer(tx.conn, self.environment, customer_id)
        return Customer.from_row(row)

    def set_plan(
        self, customer_id: str, plan: str, *, reset_anchor: bool = False, anchor: datetime | None = None
    ) -> Customer:
        """Move the customer to ``plan`` (creating them if needed).

        By default the anchor, and so the current period and its usage, are kept: usage already recorded
        this period counts against the new plan's limit of the same entitlement. ``reset_anchor=True``
        (or an explicit ``anchor``) starts new periods from that instant, so counters start again at 0.
        """
        _require_id(customer_id, "customer_id")
        now = self.now_us()
        new_anchor = _anchor(anchor) if anchor is not None else (now if reset_anchor else None)
        with self._cache.writing(self.environment) as tx:
            _, policy = self._policy(tx.conn)
            plan_name = policy.plan(_require_id(plan, "plan")).name
            tx.changed(customer_id)
            created = repo.insert_customer(tx.conn, self.environment, customer_id, plan_name, new_anchor or now, now)
            if not created:
                repo.update_customer(tx.conn, self.environment, customer_id, now, plan=plan_name, anchor=new_anchor)
            row = repo.get_customer(tx.conn, self.environment, customer_id)
        return Customer.from_row(row)

    def get_customer(self, customer_id: str) -> Customer | None:
        with self.store.read() as conn:
            row = repo.get_customer(conn, self.environment, customer_id)
        return None if row is None else Customer.from_row(row)

    # -- reading state ----------------------------------------------------------------------------
    def _resolve(self, customer: repo.CustomerRow, version: int | None, policy: Policy, entitlement: str, now: int) -> _Resolved:
        plan = policy.plan(customer.plan)
        ent = plan.entitlements.get(entitlement)
        period = None
        if ent is not None and ent.limit is not None:
            interval = plan.reset_interval(ent)
            if interval is None:
                period = (RUNNING_TOTAL_START, None)
            else:
                start, end = current_period(from_us(customer.anchor), from_us(now), interval)
                period = (to_us(start), to_us(end))
        return _Resolved(customer, version, policy, plan, ent, period)

    def _load(self, conn, customer_id: str, entitlement: str, now: int) -> tuple[repo.StateRow, _Resolved]:
        """Read and resolve a decision's state in ``conn`` (one query; the document's text only when new)."""
        state = repo.read_state(conn, self.environment, customer_id, entitlement, now)
        if state is None:
            raise NotFound(f"unknown customer {customer_id!r} (call ensure_customer first)", "customer_id")
        return state, self._resolve(state.customer, *self._active(conn, state), entitlement, now)

    def _read(self, view: View | None, customer_id: str, entitlement: str, now: int, *, io: bool = True):
        """``(resolved, used, overage, entry)`` from ``view`` when it holds them, else (``io``) from one read
        transaction that refills it; None when not ``io`` and the view cannot answer. ``entry`` is the
        cache entry the answer belongs to (None when uncached)."""
        if view is not None:
            entry = view.customers.get(customer_id)
            active = (None, self._pinned) if self._pinned is not None else view.document
            if entry is not None and active is not None:
                r = self._resolve(entry.row, *active, entitlement, now)
                usage = (ZERO, ZERO) if r.period is None else entry.counters.get((entitlement, r.period[0]))
                if usage is not None:
                    return r, *usage, entry
        if not io:
            return None
        mark = 0 if view is None else view.mark()  # before reading: a change after it refuses the fill
        with self.store.read() as conn:
            state, r = self._load(conn, customer_id, entitlement, now)
            usage = (ZERO, ZERO) if r.period is None else state.usage(r.period[0])
            if usage is None:
                row = repo.get_counter(conn, self.environment, customer_id, entitlement, r.period[0])
                usage = (ZERO, ZERO) if row is None else (row.used, row.overage)
        entry = None
        if view is not None:
            if self._pinned is None:
                view.document = (r.version, r.policy)
            entry = view.put_customer(mark, state.customer)
            if entry is not None and r.period is not None:
                view.put_counter(entry, (entitlement, r.period[0]), usage)
        return r, *usage, entry

    # -- decisions ----------------------------------------------------------------------------
    def _outcome(self, r: _Resolved, entitlement: str, decision: engine.Decision, event_id: str | None = None) -> Outcome:
        start, end = r.period if r.period else (None, None)
        is_running = r.period is not None and end is None
        lim = r.entitlement.limit if r.entitlement is not None else None
        return Outcome(
            decision, r.customer.customer_id, entitlement, r.plan.name,
            period_start=None if start is None or is_running else from_us(start),
            period_end=None if end is None else from_us(end),
            event_id=event_id, policy_version=r.version,
            credit=lim.credit.name if lim else None, mode=lim.mode if lim else None,
        )

    def check(self, customer_id: str, entitlement: str, amount: Amount | None = None) -> Outcome:
        """Would ``allow(amount)`` succeed? Read-only: nothing is consumed or recorded.

        Without ``amount``: is the entitlement in the plan and (hard limit) is anything left.
        """
        return self._check(customer_id, entitlement, amount, io=True)

    def check_cached(self, customer_id: str, entitlement: str, amount: Amount | None = None) -> Outcome | None:
        """:meth:`check` answered from the cache alone, or None when that needs the database.

        Never waits for I/O (an async server can call it on its event loop, then fall back to ``check``
        in a thread); raises what ``check`` raises for invalid arguments.
        """
        return self._check(customer_id, entitlement, amount, io=False)

    def _check(self, customer_id: str, entitlement: str, amount: Amount | None, *, io: bool) -> Outcome | None:
        _require_id(customer_id, "customer_id")
        _require_id(entitlement, "entitlement")
        now = self.now_us()
        view = self._cache.view(self.environment)
        key = _memo_key(entitlement, amount)
        entry = None if view is None or key is None else view.customers.get(customer_id)
        if entry is not None:
            hit = entry.memo.get(key)
            active = self._pinned if self._pinned is not None else (view.document or (None, None))[1]
            if hit is not None and hit[0] is active and _in_period(hit[1], now):
                return hit[2]
        state = self._read(view, customer_id, entitlement, now, io=io)
        if state is None:
            return None
        r, used, _, entry = state
        outcome = self._outcome(r, entitlement, engine.check(r.entitlement, used, amount))
        if entry is not None and key is not None:
            if len(entry.memo) >= _MEMO_MAX:
                entry.memo.clear()
            entry.memo[key] = (r.policy, r.period, outcome)
        return outcome

    def allow(self, customer_id: str, entitlement: str, amount: Amount, *, idempotency_key: str | None = None) -> Outcome:
        """Decide and consume ``amount`` atomically (see the module docstring).

        A hard limit that ``amount`` does not fit refuses and consumes nothing (``limit-reached``); a soft
        limit consumes and reports the part newly past the limit as ``overage`` (``meter-overage``).
        With ``idempotency_key``, a retry returns the first decision (``replayed=True``) without consuming
        again; reusing a key for a different customer, entitlement or amount is a ``Conflict``.
        """
        if amount is None:
            raise ValidationError("amount is required for allow (use check to test access)", "amount")
        if idempotency_key is not None:
            _require_id(idempotency_key, "idempotency_key")
        amount_text = _amount_text(amount)
        now = self.now_us()

        def decide(tx) -> tuple[Outcome, list[PolicyEvent]]:
            conn = tx.conn
            if idempotency_key is not None:
                earlier = repo.claim_allow(conn, self.environment, idempotency_key, customer_id, entitlement, amount_text, now)
                if earlier is not None:
                    if (earlier.customer_id, earlier.entitlement, earlier.amount) != (customer_id, entitlement, amount_text):
                        raise Conflict(
                            "idempotency_key was already used for a different customer, entitlement or amount",
                            "idempotency_key",
                        )
                    if earlier.decision is None:  # defensive: claims commit together with their decision
                        raise Conflict("a decision for this idempotency_key is still in progress", "idempotency_key")
                    return Outcome.from_dict(orjson.loads(earlier.decision), replayed=True), []
            _require_id(customer_id, "customer_id")
            _require_id(entitlement, "entitlement")
            _, r = self._load(conn, customer_id, entitlement, now)
            fired: list[PolicyEvent] = []
            if r.period is None:  # not in plan, or a boolean entitlement: nothing to count
                outcome = self._outcome(r, entitlement, engine.allow(r.entitlement, ZERO, amount, customer_id=customer_id))
            else:
                outcome, fired = self._allow_counted(conn, r, entitlement, amount, idempotency_key, now)
                if outcome.consumed > 0:
                    tx.changed(customer_id)
            if idempotency_key is not None:
                repo.finish_allow(conn, self.environment, idempotency_key, orjson.dumps(outcome.to_dict()).decode())
            return outcome, fired

        # concurrent allow() calls share one commit on SQLite, each decided in turn in its own savepoint
        outcome, fired = self._cache.run_write(self.environment, decide)
        self._fire(fired)
        return outcome

    def _allow_counted(self, conn, r: _Resolved, entitlement: str, amount: Amount, key: str | None, now: int):
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
        decision = engine.allow(ent, counter.used, amount, customer_id=cust)
        events.extend(decision.events)
        event_id = None
        if decision.consumed > 0:
            repo.set_counter(
                conn, self.environment, cust, entitlement, start,
                used=decision.used_after, overage=counter.overage + decision.overage, limit_value=lim.value, now_us=now,
            )
            event_id = self._record_usage(conn, r, entitlement, decision, key, now)
        self._enqueue(conn, events, now)
        return self._outcome(r, entitlement, decision, event_id), events

    def _record_usage(self, conn, r: _Resolved, entitlement: str, decision: engine.Decision, key: str | None, now: int) -> str:
        cust, credit = r.customer.customer_id, r.credit
        metadata = {
            "entitlement": entitlement,
            "amount": decimal_text(decision.consumed),
            "overage": decimal_text(decision.overage),
            "plan": r.plan.name,
        }
        event_id = _event_id(self.environment, key)
        event = Event(event_id, cust, credit.name, now, metadata, fingerprint(cust, credit.name, now, metadata))
        result = ingest_events_in(conn, self.environment, [event], now)
        if result.ingested != 1:
            raise Conflict(f"usage event id {event_id!r} already exists with other content", "idempotency_key")
        return event_id

    # -- reads ----------------------------------------------------------------------------------
    def status(self, customer_id: str, entitlement: str) -> Status:
        r, used, overage, _ = self._read_ids(customer_id, entitlement)
        ent = r.entitlement
        lim = ent.limit if ent is not None else None
        start, end = r.period if r.period else (None, None)
        return Status(
            customer_id, entitlement, r.plan.name, ent is not None,
            lim.credit.name if lim else None, lim.mode if lim else None,
            engine.value(ent, used), engine.limit(ent), engine.remaining(ent, used), engine.value(ent, used, percent=True),
            overage,
            None if start is None or end is None else from_us(start), None if end is None else from_us(end),
        )

    def remaining(self, customer_id: str, entitlement: str) -> Decimal | None:
        """``max(0, limit - used)`` this period; None without a limit (or not in the plan)."""
        return self.status(customer_id, entitlement).remaining

    def value(self, customer_id: str, entitlement: str, percent: bool = False) -> Decimal | None:
        """Usage this period (or as a percentage of the limit); None when not in the plan."""
        s = self.status(customer_id, entitlement)
        return s.percent if percent else s.used

    def limit(self, customer_id: str, entitlement: str) -> Decimal | None:
        return self.status(customer_id, entitlement).limit

    def entitlement(self, customer_id: str, entitlement: str) -> Entitlement | None:
        """The customer's entitlement definition under their plan (None: not included)."""
        return self._read_ids(customer_id, entitlement)[0].entitlement

    def _read_ids(self, customer_id: str, entitlement: str):
        """:meth:`_read` of validated ids, now, through the cache."""
        _require_id(customer_id, "customer_id")
        _require_id(entitlement, "entitlement")
        return self._read(self._cache.view(self.environment), customer_id, entitlement, self.now_us())

    # -- billing ----------------------------------------------------------------------------------
    def overage_lines(
        self, customer_id: str, start: datetime, end: datetime, currency: str = "USD"
    ) -> list[OverageLine]:
        """Soft-limit overage of periods starting in ``[start, end)``, priced by each credit's pricing model."""
        with self.store.read() as conn:
            _, policy = self._policy(conn)
            rows = repo.counters_between(conn, self.environment, customer_id, to_us(start), to_us(end))
        out: list[OverageLine] = []
        for row in rows:
            if row.overage <= 0:
                continue
            credit = policy.credits.get(row.credit)
            line = None if credit is None else overage_line(credit, row.used, row.overage, currency)
            out.append(OverageLine(
                customer_id, row.entitlement, row.credit,
                None if row.period_end is None else from_us(row.period_start),
                None if row.period_end is None else from_us(row.period_end),
                row.used, row.overage, line,
            ))
        return out


def _anchor(value: datetime) -> int:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError("anchor must be a timezone-aware datetime", "anchor")
    return to_us(value)
