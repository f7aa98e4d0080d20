"""CreditService: the credits use cases for one environment of a Store, each in a transaction of its own.

The API, the CLI and tests call this; other domains that need a change to commit with their own work call
:mod:`.operations` on their connection instead. Ledger writes go through ``Store.batched_write`` (on SQLite,
concurrent calls of one process share a commit, each in its own savepoint; on PostgreSQL each gets its own
transaction and the balance row lock orders them), so concurrent debits of one balance never overspend.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from ..config import Settings
from ..errors import Conflict, NotFound, ValidationError
from ..events.model import MAX_ID_LEN
from ..ids import new_id
from ..storage import audit, billing_repo, credits_repo as repo, policy_cache
from ..storage.store import Store
from ..timeutil import parse_instant, to_us
from . import metered, operations as ops, products as product_credits
from .entitlement import CreditEntitlement, apply_update, parse_entitlement
from .ledger import TRANSACTION_TYPES
from .views import Balance, Recorded, grant_dict

ENTRY_TYPES = ("credit", "debit")
MAX_METADATA = 50


def require_customer(customer_id: Any, field: str = "customer_id") -> str:
    if not isinstance(customer_id, str) or not customer_id.strip() or "\x00" in customer_id:
        raise ValidationError(f"{field} is required and must be a non-empty string", field)
    if len(customer_id) > MAX_ID_LEN:
        raise ValidationError(f"{field} is longer than {MAX_ID_LEN} characters", field)
    return customer_id


def check_metadata(metadata: Any) -> dict:
    """Dodo's rule: at most 50 pairs, keys ≤ 40 characters, values (string, number, boolean) ≤ 500."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or len(metadata) > MAX_METADATA:
        raise ValidationError(f"metadata must be an object of at most {MAX_METADATA} pairs", "metadata")
    for key, value in metadata.items():
        if not isinstance(key, str) or not 0 < len(key) <= 40 or "\x00" in key:
            raise ValidationError("metadata keys must be 1 to 40 characters", "metadata")
        if isinstance(value, float) and value != value:
            raise ValidationError(f"metadata.{key} must be finite", f"metadata.{key}")
        if not isinstance(value, (str, int, float, bool)) or (isinstance(value, str) and (len(value) > 500 or "\x00" in value)):
            raise ValidationError(f"metadata.{key} must be a string (≤ 500 characters), number or boolean",
                                  f"metadata.{key}")
    return dict(metadata)


def check_text(value: Any, field: str, max_len: int = 1000) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_len or "\x00" in value:
        raise ValidationError(f"{field} must be a string of at most {max_len} characters", field)
    return value


def instant(value: Any, field: str) -> int | None:
    """An ISO-8601 string or aware datetime as µs (None stays None)."""
    if value is None:
        return None
    try:
        return to_us(parse_instant(value if isinstance(value, (str, datetime)) else str(value)))
    except (ValueError, OverflowError, TypeError):
        raise ValidationError(f"{field} must be an ISO-8601 instant", field) from None


class CreditService:
    def __init__(self, store: Store, environment: str = "test_mode", business_id: str | None = None):
        self.store = store
        self.environment = environment
        self.business_id = business_id or Settings.from_env().business_id

    def now(self) -> int:
        return self.store.now()

    def _write(self, fn, customer_id: str | None = None) -> Any:
        """Run a ledger change; then this process's policy cache forgets the customer (a covering balance)."""
        out = ops.duplicate_key_is_conflict(lambda: self.store.batched_write(fn))
        if customer_id is not None:
            policy_cache.forget(self.store, self.environment, customer_id)
        return out

    def _one_covering(self, conn, ent: CreditEntitlement) -> None:
        """At most one entitlement per environment covers ``allow()``'s usage; its changes reach every cache."""
        if not ent.covers_policy_usage or ent.deleted_at is not None:
            return
        other = repo.covering_entitlement(conn, self.environment)
        if other is not None and other.id != ent.id:
            raise Conflict(f"credit entitlement {other.id} already covers policy usage in this environment "
                           "(one per environment)", "covers_policy_usage")

    # -- entitlements ---------------------------------------------------------------------------------
    def create_entitlement(self, raw: Any) -> CreditEntitlement:
        now = self.now()
        ent = parse_entitlement(raw, id=new_id("cde"), environment=self.environment, now=now)
        with self.store.write() as conn:
            self._one_covering(conn, ent)
            repo.insert_entitlement(conn, ent)
            audit.record(conn, self.environment, None, "credit_entitlement.created", ent.id, {"name": ent.name}, now)
            covering = self._announce(conn, ent)
        if covering:
            policy_cache.forget(self.store, self.environment)
        return ent

    def _announce(self, conn, *ents: CreditEntitlement) -> bool:
        """A covering entitlement changes: every customer's covering balance may (True: forget them after commit)."""
        if any(e.covers_policy_usage for e in ents):
            policy_cache.announce(conn, self.environment)
            return True
        return False

    def get_entitlement(self, entitlement_id: str, *, deleted_ok: bool = False) -> CreditEntitlement:
        with self.store.read() as conn:
            return ops.require_entitlement(conn, self.environment, entitlement_id, deleted_ok=deleted_ok)

    def list_entitlements(self, *, deleted: bool = False, limit: int = 100, offset: int = 0) -> list[CreditEntitlement]:
        with self.store.read() as conn:
            return repo.list_entitlements(conn, self.environment, deleted=deleted, limit=limit, offset=offset)

    def update_entitlement(self, entitlement_id: str, raw: Any) -> CreditEntitlement:
        now = self.now()
        with self.store.write() as conn:
            before = ops.require_entitlement(conn, self.environment, entitlement_id)
            ent = apply_update(before, raw, now)
            self._one_covering(conn, ent)
            repo.update_entitlement(conn, ent)
            audit.record(conn, self.environment, None, "credit_entitlement.updated", ent.id,
                         {"fields": sorted(raw) if isinstance(raw, dict) else []}, now)
            covering = self._announce(conn, before, ent)
        if covering:
            policy_cache.forget(self.store, self.environment)
        return ent

    def set_deleted(self, entitlement_id: str, deleted: bool) -> CreditEntitlement:
        """Soft-delete (hidden from lists, no ledger writes) or restore; 409 when already in that state."""
        now = self.now()
        with self.store.write() as conn:
            ent = ops.require_entitlement(conn, self.environment, entitlement_id, deleted_ok=True)
            if (ent.deleted_at is not None) == deleted:
                raise Conflict(f"credit entitlement is {'already' if deleted else 'not'} deleted", "id")
            ent = replace(ent, deleted_at=now if deleted else None, updated_at=now)
            self._one_covering(conn, ent)
            repo.update_entitlement(conn, ent)
            action = "deleted" if deleted else "undeleted"
            audit.record(conn, self.environment, None, f"credit_entitlement.{action}", ent.id, {}, now)
            covering = self._announce(conn, ent)
        if covering:
            policy_cache.forget(self.store, self.environment)
        return ent

    # -- ledger writes --------------------------------------------------------------------------------
    def create_ledger_entry(self, entitlement_id: str, customer_id: str, entry_type: str, amount: Any, *,
                            expires_at: Any = None, reason: str | None = None, metadata: Any = None,
                            idempotency_key: str | None = None) -> Recorded:
        """Dodo's ``create_ledger_entry``: ``credit`` makes a grant, ``debit`` deducts FIFO (then overage)."""
        if entry_type not in ENTRY_TYPES:
            raise ValidationError("entry_type must be credit or debit", "entry_type")
        if entry_type == "debit" and expires_at is not None:
            raise ValidationError("expires_at applies to credit entries only", "expires_at")
        if entry_type == "credit":
            return self.grant(entitlement_id, customer_id, amount, expires_at=expires_at, reason=reason,
                              metadata=metadata, idempotency_key=idempotency_key)
        return self.debit(entitlement_id, customer_id, amount, reason=reason, metadata=metadata,
                          idempotency_key=idempotency_key)

    def grant(self, entitlement_id: str, customer_id: str, amount: Any, *, expires_at: Any = None,
              source_type: str = "api", source_id: str | None = None, reason: str | None = None,
              metadata: Any = None, idempotency_key: str | None = None) -> Recorded:
        customer_id, meta = require_customer(customer_id), check_metadata(metadata)
        reason, exp = check_text(reason, "reason"), instant(expires_at, "expires_at")
        source_id = check_text(source_id, "source_id", 255)
        return self._write(lambda conn: ops.grant(
            conn, self.environment, entitlement_id, customer_id, amount, self.now(), expires_at=exp,
            source_type=source_type, source_id=source_id, idempotency_key=idempotency_key, reason=reason,
            metadata=meta, business_id=self.business_id), customer_id)

    def debit(self, entitlement_id: str, customer_id: str, amount: Any, *, reason: str | None = None,
              metadata: Any = None, idempotency_key: str | None = None, allow_overage: bool = True) -> Recorded:
        customer_id, meta, reason = require_customer(customer_id), check_metadata(metadata), check_text(reason, "reason")
        return self._write(lambda conn: ops.deduct(
            conn, self.environment, entitlement_id, customer_id, amount, self.now(), idempotency_key=idempotency_key,
            reason=reason, metadata=meta, allow_overage=allow_overage, business_id=self.business_id), customer_id)

    def adjust(self, entitlement_id: str, customer_id: str, amount: Any, *, reason: str | None = None,
               metadata: Any = None, idempotency_key: str | None = None) -> Recorded:
        customer_id, meta, reason = require_customer(customer_id), check_metadata(metadata), check_text(reason, "reason")
        return self._write(lambda conn: ops.adjust(
            conn, self.environment, entitlement_id, customer_id, amount, self.now(), idempotency_key=idempotency_key,
            reason=reason, metadata=meta, business_id=self.business_id), customer_id)

    def set_cycle(self, entitlement_id: str, customer_id: str, raw: Any) -> Balance:
        """Attach a cycle (``{anchor, interval, interval_count, credits_per_cycle?, source_id?}``) or detach (None)."""
        customer_id = require_customer(customer_id)
        self._write(lambda conn: ops.set_schedule(conn, self.environment, entitlement_id, customer_id, raw,
                                                  self.now(), business_id=self.business_id), customer_id)
        return self.balance(entitlement_id, customer_id)

    # -- reads ----------------------------------------------------------------------------------------
    def balance(self, entitlement_id: str, customer_id: str) -> Balance:
        """The balance as of now, with what metered events stored but not yet deducted will take (exact)."""
        customer_id = require_customer(customer_id)
        with billing_repo.snapshot(self.store) as conn:  # one state of ledger, watermark and events
            found = ops.peek_balance(conn, self.environment, entitlement_id, customer_id, self.now())
            return with_pending(found, metered.pending_credits(conn, self.environment, entitlement_id, customer_id))

    def balances(self, entitlement_id: str, customer_id: str | None = None, limit: int = 100,
                 offset: int = 0) -> list[Balance]:
        now = self.now()
        with self.store.read() as conn:
            ent = ops.require_entitlement(conn, self.environment, entitlement_id)
            rows = repo.list_balances(conn, self.environment, entitlement_id, customer_id, limit, offset)
            return [ops.settled_view(conn, row, ent, now) for row in rows]

    def customer_balances(self, customer_id: str, limit: int = 100) -> list[tuple[CreditEntitlement, Balance]]:
        """Every balance of ``customer_id`` (entitlements not deleted), with its entitlement."""
        customer_id, now = require_customer(customer_id), self.now()
        out = []
        with self.store.read() as conn:
            for row in repo.list_balances(conn, self.environment, None, customer_id, limit, 0):
                ent = repo.get_entitlement(conn, self.environment, row.entitlement_id)
                if ent is not None and ent.deleted_at is None:
                    pending = metered.pending_credits(conn, self.environment, ent.id, customer_id)
                    out.append((ent, with_pending(ops.settled_view(conn, row, ent, now), pending)))
        return out

    def _settled(self, entitlement_id: str, customer_id: str) -> tuple[CreditEntitlement, repo.BalanceRow | None]:
        """Persist a due settlement first, so listings never show credit that has expired."""
        customer_id, now = require_customer(customer_id), self.now()
        with self.store.read() as conn:
            ent = ops.require_entitlement(conn, self.environment, entitlement_id)
            bal = repo.get_balance(conn, self.environment, entitlement_id, customer_id)
        if bal is not None and bal.next_event_at is not None and bal.next_event_at <= now:
            self._write(lambda conn: ops.change(conn, self.environment, entitlement_id, customer_id, now, None,
                                                business_id=self.business_id), customer_id)
        return ent, bal

    def grants(self, entitlement_id: str, customer_id: str, status: str | None = None, limit: int = 100,
               offset: int = 0) -> list[dict]:
        if status is not None and status not in repo.GRANT_STATUSES:
            raise ValidationError(f"status must be one of {', '.join(repo.GRANT_STATUSES)}", "status")
        ent, bal = self._settled(entitlement_id, customer_id)
        if bal is None:
            return []
        with self.store.read() as conn:
            rows = repo.list_grants(conn, bal.id, status, limit, offset)
        return [grant_dict(r.grant, entitlement_id, customer_id, ent.precision, r.updated_at) for r in rows]

    def ledger(self, entitlement_id: str, customer_id: str, *, transaction_type: str | None = None,
               start: int | None = None, end: int | None = None, limit: int = 100, offset: int = 0,
               newest_first: bool = True) -> list[Recorded]:
        if transaction_type is not None and transaction_type not in TRANSACTION_TYPES:
            raise ValidationError(f"transaction_type must be one of {', '.join(TRANSACTION_TYPES)}",
                                  "transaction_type")
        ent, bal = self._settled(entitlement_id, customer_id)
        if bal is None:
            return []
        with self.store.read() as conn:
            rows = repo.list_ledger(conn, bal.id, transaction_type=transaction_type, start=start, end=end,
                                    limit=limit, offset=offset, newest_first=newest_first)
        return [Recorded(r.entry, r.entitlement_id, r.customer_id, ent.precision, r.recorded_at) for r in rows]

    def subscription_credits(self, subscription_id: str) -> list[dict]:
        """Each credit the subscription's product issues or its meters deduct, with the customer's balance."""
        with self.store.read() as conn:
            sub = billing_repo.get_subscription(conn, self.environment, subscription_id)
            return product_credits.subscription_credits(conn, self.environment, sub, self.now())

    def overage_lines(self, customer_id: str, start: int, end: int) -> list[ops.OverageCharge]:
        with self.store.read() as conn:
            return ops.overage_lines(conn, self.environment, require_customer(customer_id), start, end)

    def settle_due(self, limit: int = 1000) -> tuple[int, int]:
        """The sweep of this environment: ``(balances settled, metered events deducted)``."""
        events = metered.consume(self.store, self.environment)
        return settle_due(self.store, environment=self.environment, limit=limit, business_id=self.business_id), events


def with_pending(b: Balance, pending) -> Balance:
    """``b`` after a forced deduction of ``pending`` credits (metered usage stored, not yet in the ledger)."""
    if not pending:
        return b
    take = min(pending, max(b.balance, 0))
    return replace(b, balance=b.balance - take, overage=b.overage + (pending - take))


def settle_due(store: Store, environment: str | None = None, limit: int = 1000, business_id: str | None = None) -> int:
    """The idempotent sweep (``meterbase credits settle``): settle balances whose next expiry or cycle end
    has passed, one transaction each. Running it twice, or beside the lazy settlement, changes nothing more."""
    now = store.now()
    with store.read() as conn:
        due = repo.due_balances(conn, now, environment, limit)
    done = 0
    for bal in due:
        try:
            store.batched_write(lambda conn, b=bal: ops.change(conn, b.environment, b.entitlement_id, b.customer_id,
                                                               now, None, business_id=business_id))
            done += 1
        except NotFound:  # its entitlement was deleted: nothing is spent from it any more
            continue
    return done
