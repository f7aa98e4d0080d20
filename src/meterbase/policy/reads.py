"""The policy service's read side: ``check`` and the standings, answered through the in-process cache.

:class:`PolicyReads` is the half of :class:`~.service.PolicyService` that never writes. ``check`` /
``status`` / ``remaining`` / ``value`` / ``limit`` / ``entitlement`` answer from the Store's
:class:`~meterbase.storage.policy_cache.PolicyCache` while it is provably fresh (exact on SQLite, bounded by
notification delivery on PostgreSQL; see that module), else with one read transaction that refills it; a repeated
``check`` returns its memoised :class:`~.results.Outcome` while the periods it was decided in last. A check is
the same pure decision as ``allow`` (:mod:`.engine`), prices and spend caps included, without consuming. With a
covering balance (:mod:`.covering`) the customer's money is cached beside their counters: dropped by any write
that changes the balance (the credit ledger announces its writes like policy writes do) and at the balance's
next expiry or cycle end; such answers are not memoised.
"""

from __future__ import annotations

from decimal import Decimal

from ..errors import NotFound
from ..storage import policy_caps_repo as caps_repo, policy_repo as repo
from ..storage.policy_cache import View
from ..timeutil import from_us
from ..units import Amount
from . import engine
from .caps import CapState, preview
from .document import Entitlement
from .results import Outcome, Status
from .state import MEMO_MAX, Resolved, in_window, memo_key, parse_cached, require_id, resolve

ZERO = Decimal(0)
_CAP = "\x00cap"  # cache key prefix of a cap's spending: (_CAP, cap, period_start)
_COVER = ("\x00cover",)  # cache key of the customer's covering balance: (money, valid until µs)
_MISS = object()


class PolicyReads:
    """Read-only decisions and standings (mixed into :class:`~.service.PolicyService`)."""

    # provided by PolicyService
    store = environment = covering = _cache = _pinned = None  # type: ignore[assignment]

    def now_us(self) -> int:  # pragma: no cover - PolicyService defines it
        raise NotImplementedError

    # -- state ----------------------------------------------------------------------------------
    def _active(self, conn, state: repo.StateRow):
        """The active ``(version, policy)`` given a state row (the document's text is read only when new)."""
        if self._pinned is not None:
            return None, self._pinned
        if state.version is None:
            raise NotFound(self._no_policy_message(), "policy")
        return state.version, parse_cached(state.digest, lambda: repo.get_document(conn, self.environment, state.version))

    def _no_policy_message(self) -> str:
        return f"no policy loaded for environment {self.environment!r} (PUT /v1/policy or PolicyService.set_policy)"

    def _load(self, conn, customer_id: str, entitlement: str, now: int) -> tuple[repo.StateRow, Resolved]:
        """Read and resolve a decision's state in ``conn`` (one query; the document's text only when new)."""
        state = repo.read_state(conn, self.environment, customer_id, entitlement, now)
        if state is None:
            raise NotFound(f"unknown customer {customer_id!r} (call ensure_customer first)", "customer_id")
        return state, resolve(state.customer, *self._active(conn, state), entitlement, now)

    def _read(self, view: View | None, customer_id: str, entitlement: str, now: int, *, io: bool = True):
        """``(resolved, usage, caps, entry)`` from ``view`` when it holds them, else (``io``) from one read
        transaction that refills it; None when not ``io`` and the view cannot answer. ``entry`` is the cache
        entry the answer belongs to (None when uncached)."""
        if view is not None:
            entry = view.customers.get(customer_id)
            active = (None, self._pinned) if self._pinned is not None else view.document
            if entry is not None and active is not None:
                r = resolve(entry.row, *active, entitlement, now)
                usage = repo.NO_USAGE if r.period is None else entry.counters.get((entitlement, r.period[0]))
                spent = [entry.counters.get((_CAP, *key)) for key in r.cap_keys]
                if usage is not None and None not in spent:
                    return r, usage, _cap_states(r, spent), entry
        if not io:
            return None
        mark = 0 if view is None else view.mark()  # before reading: a change after it refuses the fill
        with self.store.read() as conn:
            state, r = self._load(conn, customer_id, entitlement, now)
            usage = repo.NO_USAGE if r.period is None else state.usage(r.period[0])
            if usage is None:
                row = repo.get_counter(conn, self.environment, customer_id, entitlement, r.period[0])
                usage = repo.NO_USAGE if row is None else row.usage
            spent = caps_repo.read_caps(conn, self.environment, customer_id, r.cap_keys)
        entry = None
        if view is not None:
            if self._pinned is None:
                view.document = (r.version, r.policy)
            entry = view.put_customer(mark, state.customer)
            if entry is not None and r.period is not None:
                view.put_counter(entry, (entitlement, r.period[0]), usage)
                for key, value in spent.items():
                    view.put_counter(entry, (_CAP, *key), value)
        return r, usage, _cap_states(r, [spent[k] for k in r.cap_keys]), entry

    def _outcome(self, r: Resolved, entitlement: str, decision: engine.Decision, event_id: str | None = None) -> Outcome:
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

    # -- check ----------------------------------------------------------------------------------
    def check(self, customer_id: str, entitlement: str, amount: Amount | None = None) -> Outcome:
        """Would ``allow(amount)`` succeed, and what would it be worth? Read-only: nothing is consumed.

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
        require_id(customer_id, "customer_id")
        require_id(entitlement, "entitlement")
        now = self.now_us()
        view = self._cache.view(self.environment)
        key = memo_key(entitlement, amount) if self.covering is None else None  # a balance's answer is not memoised
        entry = None if view is None or key is None else view.customers.get(customer_id)
        if entry is not None:
            hit = entry.memo.get(key)
            active = self._pinned if self._pinned is not None else (view.document or (None, None))[1]
            if hit is not None and hit[0] is active and in_window(hit[1], now):
                return hit[2]
        state = self._read(view, customer_id, entitlement, now, io=io)
        if state is None:
            return None
        r, usage, caps, entry = state
        covering = None
        if self.covering is not None and r.credit is not None:
            covering = self._cached_cover(view, entry, r, now, io)
            if covering is _MISS:
                return None
        outcome = self._outcome(r, entitlement, engine.check(r.entitlement, usage.used, amount, caps=caps,
                                                               covering=covering, billed=usage.overage))
        if entry is not None and key is not None:
            if len(entry.memo) >= MEMO_MAX:
                entry.memo.clear()
            entry.memo[key] = (r.policy, r.window, outcome)
        return outcome

    def _covering(self, conn, r: Resolved, now: int, for_update: bool = False) -> Decimal | None:
        """Money a covering balance (the credit ledger) holds for this call, or None without a provider."""
        if self.covering is None or r.credit is None:
            return None
        return self.covering.available(conn, self.environment, r.customer.customer_id, r.credit, r.entitlement.name,
                                       now=now, for_update=for_update).money

    def _cached_cover(self, view: View | None, entry, r: Resolved, now: int, io: bool):
        """The covering money of ``r``'s customer from the cache while it holds (no write since, and before the
        balance's next expiry or cycle end), else (``io``) read and cached; :data:`_MISS` when it needs I/O."""
        if entry is not None:
            hit = entry.counters.get(_COVER)
            if hit is not None and (hit[1] is None or now < hit[1]):
                return hit[0]
        if not io:
            return _MISS
        with self.store.read() as conn:
            cover = self.covering.available(conn, self.environment, r.customer.customer_id, r.credit,
                                            r.entitlement.name, now=now)
        if entry is not None and view is not None:  # dropped with the customer when a write changes the balance
            view.put_counter(entry, _COVER, (cover.money, cover.until))
        return cover.money

    # -- standings ------------------------------------------------------------------------------
    def status(self, customer_id: str, entitlement: str) -> Status:
        """The entitlement's standing this period: usage, limit, remaining, prices so far, spend caps."""
        r, usage, caps, _ = self._read_ids(customer_id, entitlement)
        ent = r.entitlement
        lim = ent.limit if ent is not None else None
        start, end = r.period if r.period else (None, None)
        used = usage.used
        return Status(
            customer_id, entitlement, r.plan.name, ent is not None,
            lim.credit.name if lim else None, lim.mode if lim else None,
            engine.value(ent, used), engine.limit(ent), engine.remaining(ent, used), engine.value(ent, used, percent=True),
            usage.overage,
            None if start is None or end is None else from_us(start), None if end is None else from_us(end),
            remaining_percent=engine.remaining_percent(ent, used),
            price=usage.price if lim else None, overage_price=usage.overage_price if lim else None,
            cost=usage.cost if lim else None, caps=preview(caps),
        )

    def remaining(self, customer_id: str, entitlement: str, percent: bool = False) -> Decimal | None:
        """``max(0, limit - used)`` this period (or that as a percent of the limit); None without a limit."""
        s = self.status(customer_id, entitlement)
        return s.remaining_percent if percent else s.remaining

    def value(self, customer_id: str, entitlement: str, percent: bool = False) -> Decimal | None:
        """Usage this period (or Limitr's percent of the limit, capped at 100); None when not in the plan."""
        s = self.status(customer_id, entitlement)
        return s.percent if percent else s.used

    def limit(self, customer_id: str, entitlement: str) -> Decimal | None:
        """The limit in the credit's units (None: not in the plan, a boolean entitlement, an observe limit)."""
        return self.status(customer_id, entitlement).limit

    def entitlement(self, customer_id: str, entitlement: str) -> Entitlement | None:
        """The customer's entitlement definition under their plan (None: not included)."""
        return self._read_ids(customer_id, entitlement)[0].entitlement

    def _read_ids(self, customer_id: str, entitlement: str):
        """:meth:`_read` of validated ids, now, through the cache."""
        require_id(customer_id, "customer_id")
        require_id(entitlement, "entitlement")
        return self._read(self._cache.view(self.environment), customer_id, entitlement, self.now_us())


def _cap_states(r: Resolved, spent: list[Decimal]) -> tuple[CapState, ...]:
    return tuple(CapState(cap, value) for (cap, _), value in zip(r.caps, spent))
