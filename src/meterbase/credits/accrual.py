"""Accruals (pure): deducting exactly when usage comes in amounts finer than an entitlement's precision.

Usage reaches a balance as a quantity and a divisor — money and money per credit (what ``allow()`` drew
from a covering balance), or meter units and ``meter_units_per_credit`` (a meter paid with credits). Its
exact worth in credits (``quantity / divisor``) often has more places than the entitlement's precision, and
may not even terminate (units per credit of 3). An :class:`Accrual` keeps the running ``total`` quantity of
one source and deducts, at each step, the whole quanta the total has crossed:

    deduct = ⌊(total + x) / divisor⌋ − ⌊total / divisor⌋        (⌊ ⌋: down to the precision's quantum)

computed exactly with integer division, never a rounded quotient. Nothing is lost or doubled: after any
sequence of steps the credits deducted are exactly ``⌊Σx / divisor⌋``, and the *pending* part (less than
one quantum) is still owed. :func:`available_money` values a balance net of that pending part with
multiplications only, so a covering balance never pays for more than it holds.

When the divisor changes (a new price per credit, a product's new units per credit), the total restarts
at zero: the pending part — less than one quantum of the old rate — is forgiven (:func:`rebase`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..exact import EXACT
from .amounts import ZERO, quantum


@dataclass(frozen=True)
class Accrual:
    divisor: Decimal  # quantity per credit (> 0)
    total: Decimal = ZERO  # quantity accrued since the divisor was set
    deducted: Decimal = ZERO  # credits deducted for this source, all time (for the record)


def whole(total: Decimal, divisor: Decimal, precision: int) -> Decimal:
    """``total / divisor`` truncated toward zero to the precision, exactly (integer division)."""
    q = quantum(precision)
    steps = EXACT.divide_int(total, EXACT.multiply(divisor, q))
    return EXACT.multiply(steps, q)


def rebase(acc: Accrual | None, divisor: Decimal) -> Accrual:
    """The accrual to add to under ``divisor``: a new one, or ``acc`` restarted when its divisor changed."""
    if acc is None:
        return Accrual(divisor)
    return acc if acc.divisor == divisor else Accrual(divisor, ZERO, acc.deducted)


def step(acc: Accrual, quantity: Decimal, precision: int) -> tuple[Accrual, Decimal]:
    """Add ``quantity`` (≥ 0): the new accrual and the credits to deduct now (whole quanta crossed)."""
    if quantity < 0:
        raise ValueError("an accrual only grows")
    after = EXACT.add(acc.total, quantity)
    due = EXACT.subtract(whole(after, acc.divisor, precision), whole(acc.total, acc.divisor, precision))
    return Accrual(acc.divisor, after, EXACT.add(acc.deducted, due)), due


def pending_money(acc: Accrual | None, precision: int) -> Decimal:
    """The quantity accrued but not yet deducted (worth less than one quantum), in the quantity's terms."""
    if acc is None:
        return ZERO
    return EXACT.subtract(acc.total, EXACT.multiply(whole(acc.total, acc.divisor, precision), acc.divisor))


def available_money(credits: Decimal, acc: Accrual | None, money_per_credit: Decimal, precision: int) -> Decimal:
    """What ``credits`` are worth at ``money_per_credit``, less the money accrued but not yet deducted."""
    worth = EXACT.multiply(credits, money_per_credit)
    if acc is not None and acc.divisor == money_per_credit:
        worth = EXACT.subtract(worth, pending_money(acc, precision))
    return max(ZERO, worth)
