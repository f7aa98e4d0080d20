"""The hook a credit ledger plugs into: a balance that covers priced usage before it becomes overage.

Limitr's grants and top-ups pay for usage past a limit before it is billed. meterbase keeps balances in one
ledger (the ``credits`` domain: ``meterbase.credits.covering.LedgerCovering``); the policy engine only asks it,
through a :class:`CoveringBalance` given to :class:`~.service.PolicyService` (``covering=``):

* :meth:`~CoveringBalance.available` — how much money the customer's balance holds for a call now, as a
  :class:`Cover` (None: nothing covers this customer). The pure engine turns it into units from the customer's
  tier position (:func:`.pricing.quantity_for`): a soft limit's overage is covered from its first unit, the rest
  is billed (``overage_price``); a hard limit lets a call through only when the balance covers every unit past
  the limit (so a customer whose balance is spent is refused, and nothing is consumed). A limit with
  ``grants_apply: false`` is never covered. ``allow()`` asks inside its own transaction with ``for_update``
  (the provider locks the balance, so concurrent calls never spend it twice); ``check()`` asks read-only, and
  keeps the answer in the policy cache until ``Cover.until`` (an expiry or cycle end) or a write that changes it.
* :meth:`~CoveringBalance.draw` — take the decision's ``covered_price`` (money) from the balance, in the same
  transaction that meters the call, so the ledger and the counters commit (or roll back) together.

Without a provider (the default) nothing is covered and every answer reports ``covered: "0"``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from .document import Credit


class Cover(NamedTuple):
    """A covering balance's money for one customer, as of the instant it was asked."""

    money: Decimal | None  # None: no balance covers this customer
    until: int | None = None  # µs: the answer holds until then unless written to (None: until a write)


class CoveringBalance(Protocol):
    def available(self, conn: Any, environment: str, customer_id: str, credit: Credit, entitlement: str, *,
                  now: int, for_update: bool = False) -> Cover:
        """Money the customer's balance can spend on ``credit`` at ``now`` (read in the caller's transaction;
        ``for_update``: lock it for the rest of that write transaction)."""

    def draw(self, conn: Any, environment: str, customer_id: str, credit: Credit, entitlement: str,
             amount: Decimal, reference: str, *, now: int) -> None:
        """Take ``amount`` (money, > 0) for the call identified by ``reference`` (its usage event id)."""
