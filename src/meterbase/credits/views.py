"""Read models and wire shapes of the credits domain (pure): balances, grants, ledger entries.

Two shapes of each object: native (``/v1``, the CLI) and Dodo's (the ``dodopayments`` SDK's
``CreditEntitlement``, ``CustomerCreditBalance``, ``BalanceListGrantsResponse``, ``CreditLedgerEntry``,
``BalanceCreateLedgerEntryResponse``; webhook payloads are ``CreditLedgerEntry``). Amounts are strings
with exactly the entitlement's precision; instants are RFC 3339 UTC. Dodo prices are minor units.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..pricing import currency_exponent
from ..pricing.decimals import text as plain
from ..timeutil import iso_us
from .amounts import text
from .cycles import Schedule
from .entitlement import CreditEntitlement
from .ledger import Entry, Grant

BRAND_ID = "brd_default"


def _iso(us: int | None) -> str | None:
    return None if us is None else iso_us(us)


@dataclass(frozen=True)
class Balance:
    """A customer's balance of one entitlement, settled up to the moment it was read."""

    id: str | None  # None: the customer has no ledger entry yet (balance and overage are zero)
    entitlement_id: str
    customer_id: str
    balance: Decimal
    overage: Decimal
    precision: int
    schedule: Schedule | None = None
    next_event_at: int | None = None
    last_transaction_at: int | None = None
    created_at: int | None = None
    updated_at: int | None = None

    @property
    def exists(self) -> bool:
        return self.id is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "credit_entitlement_id": self.entitlement_id, "customer_id": self.customer_id,
            "balance": text(self.balance, self.precision), "overage": text(self.overage, self.precision),
            "cycle": None if self.schedule is None else self.schedule.to_dict(self.precision),
            "next_event_at": _iso(self.next_event_at), "last_transaction_at": _iso(self.last_transaction_at),
            "created_at": _iso(self.created_at), "updated_at": _iso(self.updated_at),
        }

    def dodo(self) -> dict[str, Any]:
        d = self.to_dict()
        return {k: d[k] for k in ("id", "balance", "created_at", "credit_entitlement_id", "customer_id", "overage",
                                  "updated_at", "last_transaction_at")}


@dataclass(frozen=True)
class Recorded:
    """A ledger entry as stored (or found again under its idempotency key: ``replayed``)."""

    entry: Entry
    entitlement_id: str
    customer_id: str
    precision: int
    recorded_at: int
    replayed: bool = False

    def _amounts(self) -> dict[str, str]:
        e, p = self.entry, self.precision
        return {"amount": text(e.amount, p), "balance_before": text(e.balance_before, p),
                "balance_after": text(e.balance_after, p), "overage_before": text(e.overage_before, p),
                "overage_after": text(e.overage_after, p)}

    def to_dict(self) -> dict[str, Any]:
        e = self.entry
        return {
            "id": e.id, "credit_entitlement_id": self.entitlement_id, "customer_id": self.customer_id,
            "transaction_type": e.transaction_type, "is_credit": e.is_credit, **self._amounts(),
            "grant_id": e.grant_id, "allocations": [{"grant_id": g, "amount": text(a, self.precision)}
                                                    for g, a in e.allocations],
            "reason": e.reason, "metadata": e.metadata,
            "period_start": _iso(e.period[0]) if e.period else None, "period_end": _iso(e.period[1]) if e.period else None,
            "unit_price": None if e.unit_price is None else plain(e.unit_price), "currency": e.currency,
            "reference_type": e.reference_type, "reference_id": e.reference_id,
            "idempotency_key": None if e.key is None or e.key.startswith("sys:") else e.key,
            "created_at": iso_us(e.at), "recorded_at": iso_us(self.recorded_at), "replayed": self.replayed,
        }

    def dodo(self, business_id: str) -> dict[str, Any]:
        """Dodo's ``CreditLedgerEntry`` (also every credit webhook's ``data``)."""
        e = self.entry
        return {
            "id": e.id, **self._amounts(), "brand_id": BRAND_ID, "business_id": business_id,
            "created_at": iso_us(e.at), "credit_entitlement_id": self.entitlement_id, "customer_id": self.customer_id,
            "is_credit": e.is_credit, "metadata": e.metadata, "transaction_type": e.transaction_type,
            "description": e.reason, "grant_id": e.grant_id, "reference_id": e.reference_id,
            "reference_type": e.reference_type,
        }

    def dodo_created(self) -> dict[str, Any]:
        """Dodo's ``BalanceCreateLedgerEntryResponse``."""
        e = self.entry
        return {
            "id": e.id, **self._amounts(), "created_at": iso_us(e.at), "credit_entitlement_id": self.entitlement_id,
            "customer_id": self.customer_id, "entry_type": "credit" if e.is_credit else "debit",
            "is_credit": e.is_credit, "metadata": e.metadata, "grant_id": e.grant_id, "reason": e.reason,
        }


def grant_dict(grant: Grant, entitlement_id: str, customer_id: str, precision: int, updated_at: int) -> dict[str, Any]:
    """A grant in Dodo's ``BalanceListGrantsResponse`` shape (native adds ``status``, ``closed`` and ``cycle_end``)."""
    return {
        "id": grant.id, "created_at": iso_us(grant.created_at), "credit_entitlement_id": entitlement_id,
        "customer_id": customer_id, "initial_amount": text(grant.initial, precision),
        "remaining_amount": text(grant.remaining, precision), "is_expired": grant.closed is not None,
        "is_rolled_over": grant.closed == "rolled_over", "rollover_count": grant.rollover_count,
        "source_type": grant.source_type, "updated_at": iso_us(updated_at), "expires_at": _iso(grant.expires_at),
        "metadata": grant.metadata, "parent_grant_id": grant.parent_grant_id, "source_id": grant.source_id,
        "status": grant.status, "closed": grant.closed, "closed_at": _iso(grant.closed_at),
        "cycle_end": _iso(grant.cycle_end),
    }


def entitlement_native(ent: CreditEntitlement) -> dict[str, Any]:
    d = ent.to_dict()
    for key in ("created_at", "updated_at", "deleted_at"):
        d[key] = _iso(d[key])
    return d


def entitlement_dodo(ent: CreditEntitlement, business_id: str) -> dict[str, Any]:
    """Dodo's ``CreditEntitlement``: ``price_per_unit`` in the currency's minor unit, ``overage_limit`` an integer."""
    d = entitlement_native(ent)
    price = None
    if ent.price_per_unit is not None and ent.currency is not None:
        price = plain(ent.price_per_unit.scaleb(currency_exponent(ent.currency)))
    limit = None if ent.overage_limit is None else int(ent.overage_limit)
    keep = ("id", "created_at", "name", "overage_behavior", "overage_enabled", "precision", "rollover_enabled",
            "unit", "updated_at", "currency", "description", "expires_after_days", "max_rollover_count",
            "rollover_percentage", "rollover_timeframe_count", "rollover_timeframe_interval")
    return {**{k: d[k] for k in keep}, "business_id": business_id, "price_per_unit": price, "overage_limit": limit,
            "low_balance_threshold_percent": ent.low_balance_threshold_percent}
