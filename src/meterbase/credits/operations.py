"""Credits use cases inside a caller's transaction: every change of a balance commits with its ledger
entries and webhooks.

:func:`change` is the one write path. Inside the caller's write transaction it (1) loads the entitlement,
(2) locks the balance (:func:`storage.credits_repo.lock_account`), (3) returns the original entry when the
idempotency key was used before (409 when it was used for another request), (4) settles the cycle ends and
expiries that have passed (:func:`.ledger.settle`), (5) applies the operation (a pure function of the account),
(6) writes grants, entries and the balance row, and queues one webhook per entry in the outbox
(``credit.added`` …, plus ``credit.balance_low`` when a deduction crosses the threshold). A refused
deduction raises and so writes nothing.

Every function takes ``conn`` so it can run inside another domain's transaction (later: meters deducting at
ingest, the policy engine's ``allow``, invoice runs): :func:`deduct`, :func:`grant`, :func:`adjust`,
:func:`issue_cycle_grant`, :func:`set_schedule`, :func:`peek_balance`, :func:`overage_lines`.
:class:`.service.CreditService` wraps them for one environment of a Store, in transactions of its own.

Reads never show expired credit: :func:`peek_balance` settles a copy of the account in memory when an
expiry or cycle end has passed; listings of grants and entries first persist that settlement.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

import orjson
from sqlalchemy.exc import IntegrityError

from ..config import Settings
from ..errors import Conflict, NotFound, ValidationError
from ..pricing import Line, PerUnit, price_line
from ..storage import credits_repo as repo, outbox, policy_cache
from . import ledger
from .amounts import ceil_to, parse_amount, text
from .cycles import parse_schedule
from .entitlement import CreditEntitlement
from .ledger import CreditAccount, Entry
from .views import BRAND_ID, Balance, Recorded

Op = Callable[[CreditAccount, CreditEntitlement], Any]
MAX_KEY = 255


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY or "\x00" in key or key.startswith("sys:"):
        raise ValidationError(f"idempotency_key must be 1 to {MAX_KEY} characters (not starting with 'sys:')",
                              "idempotency_key")
    return key


def require_entitlement(conn, environment: str, entitlement_id: str, *, deleted_ok: bool = False) -> CreditEntitlement:
    ent = repo.get_entitlement(conn, environment, entitlement_id)
    if ent is None or (ent.deleted_at is not None and not deleted_ok):
        raise NotFound("credit entitlement not found", "credit_entitlement_id")
    return ent


def _recorded(row: repo.LedgerRow, precision: int, replayed: bool = False) -> Recorded:
    return Recorded(row.entry, row.entitlement_id, row.customer_id, precision, row.recorded_at, replayed)


def _webhooks(conn, bal: repo.BalanceRow, ent: CreditEntitlement, entries: list[Entry], low: tuple | None,
              now: int, business_id: str) -> None:
    """One outbox message per entry (Dodo's ``CreditLedgerEntry``), and ``credit.balance_low`` when a
    deduction took the balance below ``low = (threshold, base)``."""
    for entry in entries:
        rec = Recorded(entry, bal.entitlement_id, bal.customer_id, ent.precision, now)
        outbox.enqueue(conn, bal.environment, ledger.WEBHOOK_TYPES[entry.transaction_type], rec.dodo(business_id), now)
        if low is not None and entry.transaction_type in (ledger.CREDIT_DEDUCTED, ledger.MANUAL_ADJUSTMENT) \
                and not entry.is_credit and ledger.crossed_low(entry, low[0]):
            schedule = bal.parsed_schedule()
            outbox.enqueue(conn, bal.environment, ledger.BALANCE_LOW, {
                "available_balance": text(entry.balance_after, ent.precision), "brand_id": BRAND_ID,
                "credit_entitlement_id": ent.id, "credit_entitlement_name": ent.name, "customer_id": bal.customer_id,
                "subscription_credits_amount": text(low[1], ent.precision),
                "subscription_id": schedule.source_id if schedule and schedule.source_id else "",
                "threshold_amount": text(ceil_to(low[0], ent.precision), ent.precision),
                "threshold_percent": ent.low_balance_threshold_percent,
            }, now)


def _request_fingerprint(ent: CreditEntitlement, customer_id: str, request: dict) -> str:
    """Hash of the request an idempotency key stands for; amounts at the precision ('10' = '10.00')."""
    normal = dict(request)
    if "amount" in normal:
        try:
            normal["amount"] = text(parse_amount(normal["amount"], ent.precision, signed=True), ent.precision)
        except ValidationError:
            pass  # the operation itself reports the error
    return request_hash({"entitlement_id": ent.id, "customer_id": customer_id, **normal})


def request_hash(payload: dict) -> str:
    """SHA-256 of a request's canonical JSON: what an idempotency key stands for."""
    return hashlib.sha256(orjson.dumps(payload, default=str, option=orjson.OPT_SORT_KEYS)).hexdigest()


def change(conn, environment: str, entitlement_id: str, customer_id: str, now: int, op: Op | None, *,
           key: str | None = None, request: dict | None = None, business_id: str | None = None) -> Recorded | None:
    """Apply ``op(account, entitlement)`` (None: only settle) to one balance in the caller's write transaction.

    ``op`` returns the :class:`~.ledger.Entry` it made (or None). With ``key``, a replay (same ``request``)
    returns the first result with ``replayed=True`` and changes nothing; another request under it is a 409.
    """
    ent = require_entitlement(conn, environment, entitlement_id)
    bal, acct = repo.lock_account(conn, environment, entitlement_id, customer_id, now)
    fp = _request_fingerprint(ent, customer_id, request or {}) if key is not None else None
    if key is not None:
        found = repo.entry_by_key(conn, environment, key)
        if found is not None:
            if found.fingerprint != fp:
                raise Conflict("idempotency_key was already used for a different ledger entry", "idempotency_key")
            return _recorded(found, ent.precision, replayed=True)
    ledger.settle(acct, ent, now)
    base = acct.threshold_base
    threshold = ledger.low_balance_threshold(acct, ent)
    entry = op(acct, ent) if op is not None else None
    if entry is not None and key is not None:
        entry.key = key
    repo.save_account(conn, bal, acct, now, {key: fp} if key is not None and fp is not None else None)
    if ent.covers_policy_usage:  # allow()/check() of this customer read this balance: their caches must forget it
        policy_cache.announce(conn, environment, customer_id)
    _webhooks(conn, bal, ent, acct.entries, None if threshold is None else (threshold, base), now,
              business_id or Settings.from_env().business_id)
    return None if entry is None else Recorded(entry, entitlement_id, customer_id, ent.precision, now)


def deduct(conn, environment: str, entitlement_id: str, customer_id: str, amount: Any, now: int, *,
           idempotency_key: str | None = None, reason: str | None = None, metadata: dict | None = None,
           reference: tuple[str, str] | None = None, allow_overage: bool = True,
           business_id: str | None = None) -> Recorded:
    """Deduct ``amount`` (FIFO, then overage) inside the caller's transaction; raises ``InsufficientCredits``
    (and writes nothing) when the balance and the overage allowance cannot cover it."""
    def op(acct: CreditAccount, ent: CreditEntitlement) -> Entry:
        return ledger.deduct(acct, ent, parse_amount(amount, ent.precision), now, allow_overage=allow_overage,
                             reason=reason, metadata=metadata, reference=reference)

    return change(conn, environment, entitlement_id, customer_id, now, op, key=check_key(idempotency_key),
                  request={"kind": "debit", "amount": amount, "allow_overage": allow_overage},
                  business_id=business_id)


def grant(conn, environment: str, entitlement_id: str, customer_id: str, amount: Any, now: int, *,
          expires_at: int | None = None, source_type: str = "api", source_id: str | None = None,
          cycle_end: int | None = None, idempotency_key: str | None = None, reason: str | None = None,
          metadata: dict | None = None, business_id: str | None = None) -> Recorded:
    """Grant ``amount`` (a new grant; repays overage first under ``carry_deficit_auto_repay``)."""
    if source_type not in ledger.SOURCE_TYPES or source_type == "rollover":
        raise ValidationError("source_type must be one of subscription, one_time, addon, api", "source_type")

    def op(acct: CreditAccount, ent: CreditEntitlement) -> Entry:
        return ledger.add(acct, ent, parse_amount(amount, ent.precision), now, expires_at=expires_at,
                          source_type=source_type, source_id=source_id, cycle_end=cycle_end, reason=reason,
                          metadata=metadata)

    return change(conn, environment, entitlement_id, customer_id, now, op, key=check_key(idempotency_key),
                  request={"kind": "credit", "amount": amount, "expires_at": expires_at, "source_type": source_type,
                           "source_id": source_id}, business_id=business_id)


def adjust(conn, environment: str, entitlement_id: str, customer_id: str, amount: Any, now: int, *,
           idempotency_key: str | None = None, reason: str | None = None, metadata: dict | None = None,
           business_id: str | None = None) -> Recorded:
    """A ``manual_adjustment`` of ``amount`` (signed: positive grants, negative deducts without overage)."""
    def op(acct: CreditAccount, ent: CreditEntitlement) -> Entry:
        return ledger.adjust(acct, ent, parse_amount(amount, ent.precision, signed=True), now, reason=reason,
                             metadata=metadata)

    return change(conn, environment, entitlement_id, customer_id, now, op, key=check_key(idempotency_key),
                  request={"kind": "adjustment", "amount": amount}, business_id=business_id)


def issue_cycle_grant(conn, environment: str, entitlement_id: str, customer_id: str, amount: Any,
                      period_start: int, period_end: int, now: int, *, source_id: str | None = None,
                      business_id: str | None = None) -> Recorded:
    """Credits a subscription issues for its period ``[period_start, period_end)``: a grant bound to that
    cycle (rolled over or expired at ``period_end``), idempotent per (balance, source, period)."""
    key = f"cycle:{entitlement_id}:{customer_id}:{source_id or ''}:{period_start}"
    return grant(conn, environment, entitlement_id, customer_id, amount, now, source_type="subscription",
                 source_id=source_id, cycle_end=period_end, idempotency_key=key[:MAX_KEY],
                 reason="credits for the cycle", business_id=business_id)


def set_schedule(conn, environment: str, entitlement_id: str, customer_id: str, raw: Any, now: int, *,
                 business_id: str | None = None) -> None:
    """Make the balance follow a cycle (``raw``: see :func:`.cycles.parse_schedule`; None: no cycles)."""
    def op(acct: CreditAccount, ent: CreditEntitlement) -> None:
        schedule = None if raw is None else parse_schedule(raw, ent.precision)
        ledger.attach_schedule(acct, ent, schedule, now)

    change(conn, environment, entitlement_id, customer_id, now, op, business_id=business_id)


def peek_balance(conn, environment: str, entitlement_id: str, customer_id: str, now: int) -> Balance:
    """The balance as of ``now`` without writing: passed expiries and cycle ends are settled in memory."""
    ent = require_entitlement(conn, environment, entitlement_id)
    bal = repo.get_balance(conn, environment, entitlement_id, customer_id)
    if bal is None:
        return Balance(None, entitlement_id, customer_id, Decimal(0), Decimal(0), ent.precision)
    return settled_view(conn, bal, ent, now)


def settled_view(conn, bal: repo.BalanceRow, ent: CreditEntitlement, now: int) -> Balance:
    balance, overage, next_event, last = bal.balance, bal.overage, bal.next_event_at, bal.last_transaction_at
    if next_event is not None and next_event <= now:
        acct = repo.read_account(conn, bal)
        entries = ledger.settle(acct, ent, now)
        balance, overage, next_event = acct.balance, acct.overage, acct.next_event()
        last = max([e.at for e in entries] + [last or 0]) or None
    return Balance(bal.id, bal.entitlement_id, bal.customer_id, balance, overage, ent.precision,
                   bal.parsed_schedule(), next_event, last, bal.created_at, bal.updated_at)


@dataclass(frozen=True)
class OverageCharge:
    """Overage invoiced at a cycle end (``invoice_at_billing``): the ledger entry and its priced line."""

    entitlement: CreditEntitlement
    entry: Recorded
    line: Line  # quantity = overage credits, unit price = price_per_unit, amount rounded once to the currency


def overage_lines(conn, environment: str, customer_id: str, start: int, end: int) -> list[OverageCharge]:
    """The ``overage_charged`` entries of ``customer_id`` that took effect in ``[start, end)``, priced."""
    out = []
    for row in repo.customer_entries(conn, environment, customer_id, ledger.OVERAGE_CHARGED, start, end):
        ent = require_entitlement(conn, environment, row.entitlement_id, deleted_ok=True)
        e = row.entry
        if e.unit_price is None or e.currency is None:
            continue
        line = price_line(e.amount, PerUnit(unit_price=e.unit_price), e.currency)
        out.append(OverageCharge(ent, _recorded(row, ent.precision), line))
    return out


def duplicate_key_is_conflict(fn: Callable[[], Any]) -> Any:
    """Run ``fn``; an idempotency key inserted concurrently for another balance becomes a 409."""
    try:
        return fn()
    except IntegrityError as exc:
        if "idempotency" in str(exc.orig).lower():
            raise Conflict("idempotency_key was already used for a different ledger entry", "idempotency_key") from None
        raise
