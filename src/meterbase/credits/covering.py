"""The credit ledger as the policy engine's covering balance (``policy.covering.CoveringBalance``).

One ledger, not two: the environment's entitlement with ``covers_policy_usage`` (a money credit:
``price_per_unit`` is the money one credit is worth, 1 for a fiat credit, in the entitlement's currency) is
what pays for ``allow()``'s priced usage before it becomes overage (Limitr's grants). Per customer:

* :meth:`LedgerCovering.available` — the balance's worth in money at *now* (expiries and cycle ends settled in
  memory), less the money drawn but not yet deducted (see below); with ``overage_enabled`` plus what the
  overage allowance still admits (``overage_limit − overage``, or without a limit any amount). So with
  overage disabled, or past ``overage_limit``, a hard limit refuses what the balance cannot pay for and
  consumes nothing; a soft limit bills the uncovered rest as the policy's own overage.
* :meth:`LedgerCovering.draw` — inside ``allow()``'s transaction (the balance row locked since
  ``available(for_update=True)``): the covered money accrues (``credits.accrual``, source ``policy``) and
  the whole credits it crosses are deducted (``credits.operations.deduct``: FIFO, then overage), with the
  call's usage event id as the entry's reference. A deduction the ledger refuses raises, so the whole
  ``allow()`` rolls back: concurrent calls never overspend.

Policy prices are in the policy's money; this treats them as amounts of the entitlement's currency.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..exact import EXACT
from ..policy.covering import Cover
from ..policy.document import Credit
from ..storage import credits_repo as repo
from . import accrual, operations as ops
from .amounts import LIMIT, ZERO, text

SOURCE = "policy"


class LedgerCovering:
    """``CoveringBalance`` over the credit ledger (stateless: one instance serves every thread)."""

    def __init__(self, business_id: str | None = None):
        self.business_id = business_id

    def available(self, conn: Any, environment: str, customer_id: str, credit: Credit, entitlement: str, *,
                  now: int, for_update: bool = False) -> Cover:
        ent = repo.covering_entitlement(conn, environment)
        if ent is None or ent.price_per_unit is None:
            return Cover(None)
        bal = repo.get_balance(conn, environment, ent.id, customer_id, for_update=for_update)
        balance, overage, until = ZERO, ZERO, None
        if bal is not None:
            view = ops.settled_view(conn, bal, ent, now)
            balance, overage, until = view.balance, view.overage, view.next_event_at
        acc = repo.get_accrual(conn, environment, ent.id, customer_id, SOURCE)
        money = accrual.available_money(balance, acc, ent.price_per_unit, ent.precision)
        if ent.overage_enabled:
            room = LIMIT if ent.overage_limit is None else max(ZERO, EXACT.subtract(ent.overage_limit, overage))
            money = EXACT.add(money, EXACT.multiply(room, ent.price_per_unit))
        return Cover(money, until)

    def draw(self, conn: Any, environment: str, customer_id: str, credit: Credit, entitlement: str,
             amount: Decimal, reference: str, *, now: int) -> None:
        ent = repo.covering_entitlement(conn, environment)
        if ent is None or ent.price_per_unit is None:  # cannot happen inside one transaction: available() saw it
            raise RuntimeError("the covering credit entitlement disappeared during allow()")
        repo.lock_balance(conn, environment, ent.id, customer_id, now)
        acc = accrual.rebase(repo.get_accrual(conn, environment, ent.id, customer_id, SOURCE), ent.price_per_unit)
        acc, due = accrual.step(acc, amount, ent.precision)
        repo.save_accrual(conn, environment, ent.id, customer_id, SOURCE, acc, now)
        if due > 0:
            ops.deduct(conn, environment, ent.id, customer_id, text(due, ent.precision), now,
                       reason=f"allow() {entitlement}", reference=("policy_allow", reference),
                       metadata={"entitlement": entitlement, "credit": credit.name, "money": format(amount, "f")},
                       business_id=self.business_id)
