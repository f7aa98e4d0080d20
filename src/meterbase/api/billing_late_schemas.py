"""Pydantic models documenting invoice runs, skipped periods ("needs attention"), carry-forward
adjustments and the per-period late-usage view (``api.routes.billing_late``, ``POST /v1/invoices/run``).

They document answers only; the routes return the read models' ``to_dict()``. Amounts and quantities
are exact decimal text.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, Field

REASONS = "negative | too_large | not_a_number (pricing.quantity.UnbillableQuantity)"


class SkippedPeriod(BaseModel):
    """A period an invoice run could not price: no invoice was created or changed for it."""

    object: Literal["skipped_period"]
    run_id: Optional[str]
    environment: str
    subscription_id: str
    customer_id: str
    period_start: str
    period_end: str
    kind: Literal["invoice", "adjustment"] = Field(description="invoice: the period itself; adjustment: its late "
                                                                "usage after finalization.")
    meter_id: Optional[str] = Field(description="The meter whose value no price can take.")
    value: Optional[str] = Field(description="That value, exact.")
    reason: str = Field(description=REASONS)
    message: str
    created_at: Optional[str]
    resolved_at: Optional[str] = Field(description="When a later run priced the period (null: needs attention).")


class SkippedPage(BaseModel):
    data: list[SkippedPeriod]


class RunRecord(BaseModel):
    id: str
    object: Literal["invoice_run"]
    environment: str
    until: str
    finalize: Literal["no", "past_grace", "now"]
    lookback_days: int
    started_at: str
    finished_at: str
    created: int
    existing: int
    finalized: int
    skipped: int
    adjustments: int
    actor: str
    skipped_periods: list[SkippedPeriod]


class RunPage(BaseModel):
    data: list[RunRecord]


class AdjustmentOut(BaseModel):
    """Late usage of a finalized period: the difference billed on the customer's next invoice."""

    id: str
    object: Literal["adjustment"]
    environment: str
    subscription_id: str
    customer_id: str
    period_start: str = Field(description="The finalized period the usage belongs to.")
    period_end: str
    meter_id: str
    description: str = Field(description="The invoice line's label, e.g. 'Calls: usage for 2025-01 received after "
                                         "invoicing'.")
    version: int = Field(description="1 for the period's first adjustment of this meter, then 2, 3…")
    adjusts_invoice_id: str
    currency: str
    quantity_invoiced: str = Field(description="The period's usage billed before this adjustment.")
    quantity_now: str = Field(description="The period's usage this adjustment brings the billing up to.")
    quantity: str
    free_units: str
    billable_units: str
    amount: str = Field(description="Price of the period's total now minus what was billed; negative: a credit.")
    status: Literal["pending", "carried", "invoiced"] = Field(
        description="pending: on no invoice yet; carried: on a draft; invoiced: on a finalized invoice.")
    invoice_id: Optional[str] = Field(description="The invoice that carries it.")
    created_at: str


class AdjustmentPage(BaseModel):
    data: list[AdjustmentOut]


class MeterPeriodUsage(BaseModel):
    meter_id: str
    description: str
    quantity_invoiced: str = Field(description="On the period's invoice.")
    quantity_billed: str = Field(description="Invoiced plus the adjustments recorded since.")
    quantity_now: str = Field(description="The period's usage now.")
    quantity_pending: str = Field(description="Now minus billed: what the next invoice run adjusts.")
    amount_invoiced: str
    amount_adjusted: str
    amount_now: str = Field(description="The period's usage priced now.")
    amount_pending: str


class PeriodUsageOut(BaseModel):
    invoice_id: str
    status: Literal["draft", "finalized"]
    period_start: str
    period_end: str
    currency: str
    error: Optional[str] = Field(description="Why the period cannot be priced now (then meters is empty).")
    meters: list[MeterPeriodUsage]
    amount_pending: str


class PeriodUsagePage(BaseModel):
    object: Literal["subscription_periods"]
    subscription_id: str
    customer_id: str
    data: list[PeriodUsageOut]
