"""Invoice lines of credits: what credits paid for, and credit overage per the entitlement's behaviour.

For each credit balance of the customer (``line_sources`` decides which subscription's invoice carries an item:
the carrier at the item's instant), from the ledger — and, for cycle ends that have passed but were not yet
written, from the same settlement done in memory (``credits.ledger.settle``), so an invoice never waits for the
sweep:

* **credits applied** (``credits_applied``, amount 0) — the credits deducted in the period from prepaid grants
  (usage paid with credits: metered events, ``allow()`` draws, debits); the part that went past zero is shown.
* **overage charged** (``credit_overage``) — Dodo's ``invoice_at_billing``: the ``overage_charged`` entry of a
  cycle end inside the period, ``overage × price_per_unit`` rounded once in the currency (the invoice's: an
  entitlement in another currency is carried by a subscription in that currency). The upcoming invoice shows
  the overage so far of the cycle ending inside the period, priced the same way.
* **deficit carried** (``credit_deficit``, amount 0) — ``carry_deficit`` / ``carry_deficit_auto_repay``: the
  overage carried into the next cycle at a cycle end inside the period (so far, on the upcoming invoice).
* ``forgive_at_reset`` — nothing: the overage is forgiven (an ``overage_reset`` entry in the ledger).
"""

from __future__ import annotations

from decimal import Decimal

from ..billing.invoice import InvoiceLine
from ..credits import ledger
from ..credits.amounts import ZERO
from ..credits.entitlement import CARRY_DEFICIT, CARRY_DEFICIT_AUTO_REPAY, INVOICE_AT_BILLING, CreditEntitlement
from ..credits.ledger import Entry
from ..credits.operations import settled_view
from ..pricing import Money, PerUnit, price_line
from ..pricing.decimals import text
from ..storage import credits_repo as repo
from ..timeutil import from_us

CARRIED = (CARRY_DEFICIT, CARRY_DEFICIT_AUTO_REPAY)


def lines(ctx) -> list[InvoiceLine]:
    """Credit lines of ``ctx``'s (subscription, period) (``ctx``: ``line_sources.Context``)."""
    out: list[InvoiceLine] = []
    horizon = ctx.end if ctx.upto is None else ctx.upto  # cycle ends up to here have happened
    for bal in repo.list_balances(ctx.conn, ctx.sub.environment, None, ctx.sub.customer_id, 1000, 0):
        ent = repo.get_entitlement(ctx.conn, ctx.sub.environment, bal.entitlement_id)
        if ent is None:
            continue
        stored = [r.entry for r in repo.list_ledger(ctx.conn, bal.id, start=ctx.start, end=ctx.end + 1,
                                                    limit=1_000_000, newest_first=False)]
        unsettled: list[Entry] = []
        if bal.next_event_at is not None and bal.next_event_at <= horizon:
            unsettled = ledger.settle(repo.read_account(ctx.conn, bal), ent, horizon)
        entries = stored + [e for e in unsettled if ctx.start <= e.at <= ctx.end]
        out += _applied(ctx, ent, entries, horizon)
        out += [_charged(ctx, ent, e) for e in entries if e.transaction_type == ledger.OVERAGE_CHARGED
                and e.currency is not None and e.unit_price is not None and ctx.start < e.at
                and ctx.carries(e.at - 1, e.currency)]
        schedule = bal.parsed_schedule()
        if schedule is None:
            continue
        if ent.overage_behavior in CARRIED:
            out += _carried(ctx, ent, bal, schedule, stored + unsettled, horizon)
        if ctx.upto is not None:
            out += _so_far(ctx, ent, bal, schedule)
    return out


def _line(ctx, ent: CreditEntitlement, kind: str, description: str, start: int, end: int, quantity: Decimal,
          detail: dict, *, at: int, price: Decimal | None = None) -> InvoiceLine:
    amount, billable, exact = Money(ZERO, ctx.currency).amount, ZERO, None  # 0.00 in the currency
    if price is not None:
        priced = price_line(quantity, PerUnit(unit_price=price), ctx.currency)
        amount, billable, exact = priced.amount, priced.billable_units, text(priced.exact_amount)
    return InvoiceLine(
        kind=kind, description=description, product_id=ctx.product_at(at), meter_id=None, start=from_us(start),
        end=from_us(end), quantity=quantity, free_units=ZERO, billable_units=billable, unit_price=price,
        amount=amount, detail={"model": kind, "credit_entitlement_id": ent.id, "unit": ent.unit,
                               **({} if exact is None else {"exact_amount": exact}), **detail},
    )


def _applied(ctx, ent: CreditEntitlement, entries: list[Entry], horizon: int) -> list[InvoiceLine]:
    taken = past_zero = ZERO
    for e in entries:
        if e.transaction_type == ledger.CREDIT_DEDUCTED and ctx.start <= e.at < min(ctx.end, horizon + 1) \
                and ctx.carries(e.at):
            taken += e.balance_before - e.balance_after
            past_zero += e.overage_after - e.overage_before
    if not taken and not past_zero:
        return []
    end = ctx.end if ctx.upto is None else ctx.upto
    return [_line(ctx, ent, "credits_applied", f"{ent.name}: credits applied", ctx.start, end, taken,
                  {"past_zero": ent.amount_text(past_zero), "behavior": ent.overage_behavior}, at=ctx.start)]


def _charged(ctx, ent: CreditEntitlement, e: Entry) -> InvoiceLine:
    start, end = e.period if e.period else (ctx.start, e.at)
    return _line(ctx, ent, "credit_overage", f"{ent.name}: overage charged", start, end, e.amount,
                 {"behavior": INVOICE_AT_BILLING, "ledger_entry_id": e.id}, at=e.at - 1, price=e.unit_price)


def _boundaries(schedule, start: int, end: int):
    b = schedule.next_boundary(start)
    while b <= end:
        yield b
        b = schedule.next_boundary(b)


def _overage_at(ctx, bal, entries: list[Entry], at: int) -> Decimal:
    """The overage carried over the cycle end ``at``: after everything that happened by then, before the new
    cycle's credits (which repay it under ``carry_deficit_auto_repay``)."""
    def by_end(e: Entry) -> bool:
        return e.at < at or (e.at == at and e.transaction_type != ledger.CREDIT_ADDED)

    before = [e for e in entries if by_end(e)]
    if before:
        return before[-1].overage_after
    older = [r.entry for r in repo.list_ledger(ctx.conn, bal.id, end=at + 1, limit=20, newest_first=True)]
    return next((e.overage_after for e in older if by_end(e)), ZERO)


def _carried(ctx, ent: CreditEntitlement, bal, schedule, entries: list[Entry], horizon: int) -> list[InvoiceLine]:
    out = []
    for b in _boundaries(schedule, ctx.start, min(ctx.end, horizon)):
        carried = _overage_at(ctx, bal, entries, b)
        if carried > 0 and ctx.carries(b - 1):
            out.append(_line(ctx, ent, "credit_deficit", f"{ent.name}: deficit carried to the next cycle",
                             schedule.period(b - 1)[0], b, carried, {"behavior": ent.overage_behavior}, at=b - 1))
    return out


def _so_far(ctx, ent: CreditEntitlement, bal, schedule) -> list[InvoiceLine]:
    """The running cycle's overage, where this invoice will carry it (upcoming invoices only)."""
    nxt = schedule.next_boundary(ctx.upto)
    if nxt > ctx.end or ent.overage_behavior not in (INVOICE_AT_BILLING, *CARRIED):
        return []
    overage = settled_view(ctx.conn, bal, ent, ctx.upto).overage
    if overage <= 0:
        return []
    start = schedule.period(ctx.upto)[0]
    if ent.overage_behavior == INVOICE_AT_BILLING:
        if ent.currency is None or ent.price_per_unit is None or not ctx.carries(nxt - 1, ent.currency):
            return []
        return [_line(ctx, ent, "credit_overage", f"{ent.name}: overage so far (charged at the cycle end)", start,
                      nxt, overage, {"behavior": INVOICE_AT_BILLING, "so_far": True}, at=nxt - 1,
                      price=ent.price_per_unit)]
    if not ctx.carries(nxt - 1):
        return []
    return [_line(ctx, ent, "credit_deficit", f"{ent.name}: deficit so far (carried at the cycle end)", start, nxt,
                  overage, {"behavior": ent.overage_behavior, "so_far": True}, at=nxt - 1)]
