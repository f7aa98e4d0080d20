"""Invoice lines of policy overage: soft-limit overage ``allow()`` consumed becomes money on an invoice.

Seed 004's ``meter-overage`` handler exists to bill overage; here the engine has already recorded, per call,
what its billable units past the limit were worth from the customer's tier position (``overage_price``, after a
covering balance). :func:`lines` reads the counters of the customer's policy periods that *end* inside the
billing period (``policy.billing.overage_lines_ending``: the calls' recorded prices summed, rounded once per
line in the invoice's currency) and keeps those this subscription carries (``line_sources``: the carrier at
the policy period's last instant). A period still running shows what it has consumed so far on the upcoming
invoice; once the billing period is invoiced it is complete. Limits that never reset have no period end and are
not invoiced (their overage is listed by ``GET /v1/policy/customers/{id}/overage``).
"""

from __future__ import annotations

from ..billing.invoice import InvoiceLine
from ..policy.billing import overage_lines_ending
from ..pricing.decimals import text
from ..timeutil import to_us


def lines(ctx) -> list[InvoiceLine]:
    """Policy overage lines of ``ctx``'s (subscription, period) (``ctx``: ``line_sources.Context``)."""
    out = []
    for o in overage_lines_ending(ctx.conn, ctx.sub.environment, ctx.sub.customer_id, ctx.start, ctx.end,
                                  ctx.currency):
        if o.line is None or o.period_end is None:
            continue
        at = to_us(o.period_end) - 1
        if not ctx.carries(at) or (ctx.upto is not None and to_us(o.period_start) >= ctx.upto):
            continue
        line = o.line
        out.append(InvoiceLine(
            kind="policy_overage", description=f"{o.entitlement} overage ({o.credit})",
            product_id=ctx.product_at(at), meter_id=None, start=o.period_start, end=o.period_end,
            quantity=line.quantity, free_units=line.free_units, billable_units=line.billable_units,
            unit_price=line.unit_price, amount=line.amount,
            detail={"model": line.model, "entitlement": o.entitlement, "credit": o.credit, "used": text(o.used),
                    "exact_amount": text(line.exact_amount), "unit": _unit(ctx, o.credit)},
        ))
    return out


def _unit(ctx, credit: str) -> str:
    """The credit's unit (``stof_units``) so pages show 3,600 s as 1 h."""
    from ..policy.billing import active_policy

    found = active_policy(ctx.conn, ctx.sub.environment).credits.get(credit)
    return (found.stof_units or "") if found is not None else ""
