"""The hook a credit ledger plugs into: a balance that covers priced usage before it becomes overage.

Limitr's grants and top-ups pay for usage past a limit before it is billed. meterbase keeps balances in one
ledger (the ``credits`` domain); the policy engine only asks it, inside ``allow()``'s own transaction, through a
:class:`CoveringBalance` given to :class:`~.service.PolicyService` (``covering=``):

* :meth:`~CoveringBalance.available` — how much money the customer's balance holds for this call (None: none).
  The pure engine turns it into units from the customer's tier position (:func:`.pricing.quantity_for`): a soft
  limit's overage is covered from its first unit, the rest is billed (``overage_price``); a hard limit lets a
  call through when the balance covers every unit past the limit. A limit with ``grants_apply: false`` is never
  covered.
* :meth:`~CoveringBalance.draw` — take the decision's ``covered_price`` (money) from the balance, in the same
  transaction that meters the call, so the ledger and the counters commit (or roll back) together.

Without a provider (the default) nothing is covered and every answer reports ``covered: "0"``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from .document import Credit


class CoveringBalance(Protocol):
    def available(self, conn: Any, environment: str, customer_id: str, credit: Credit, entitlement: str) -> Decimal | None:
        """Money the customer's balance can spend on ``credit`` now (read in the caller's transaction)."""

    def draw(self, conn: Any, environment: str, customer_id: str, credit: Credit, entitlement: str,
             amount: Decimal, reference: str) -> None:
        """Take ``amount`` (money, > 0) for the call identified by ``reference`` (its usage event id)."""
