"""Pydantic models documenting the billing API: native ``/v1`` customers, products, subscriptions and
invoices, and the Dodo-compatible billing routes (the security routes' models: ``security_schemas``).

Request models mirror what the pure core accepts (``billing.subscriptions``, ``billing.plans``,
``pricing.parse``) and only document it: the core still parses every body, so the errors stay the
same everywhere. Money is exact decimal text in major units on ``/v1`` (``"30.00"``) and integer
minor units on the Dodo routes (``3000``).
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from .billing_late_schemas import SkippedPeriod

Number = Union[str, int, float]
Decimalish = Field(description="A non-negative decimal: a string like '0.02' is exact (numbers are read by their "
                               "shortest repr).")
Meta = Optional[dict[str, Union[str, int, float, bool]]]
META = "String, number or boolean values."


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- requests -------------------------------------------------------------------------------------
class CustomerCreate(_Strict):
    """A billing customer. ``email`` and ``name`` are required."""

    email: str = Field(min_length=1, max_length=255, pattern="@", description="Required: where invoices go (must contain @).",
                       examples=["billing@acme.example"])
    name: str = Field(min_length=1, max_length=255, examples=["Acme Corp"])
    id: Optional[str] = Field(None, min_length=1, max_length=255, examples=["cus_acme"],
                              description="The customer_id this customer's events carry; generated (cus_…) when absent.")
    customer_id: Optional[str] = Field(None, min_length=1, max_length=255, description="Alias of id.")
    phone_number: Optional[str] = Field(None, min_length=1, max_length=64)
    metadata: Meta = Field(None, description=META)


class Tier(_Strict):
    up_to: Optional[Number] = Field(description="Upper bound of the tier in the meter's unit (null: unbounded, last "
                                                "tier only); bounds ascend.")
    unit_price: Number = Decimalish
    flat_fee: Optional[Number] = Field(None, description="Added once when the tier is reached.")


class _PriceBase(_Strict):
    free_threshold: Optional[Number] = Field(None, description="Units free each period before pricing.")
    minimum: Optional[Number] = Field(None, description="Least charge of the line (applies at zero usage too).")
    maximum: Optional[Number] = Field(None, description="Cap of the line's charge.")


class PerUnitPrice(_PriceBase):
    model: Literal["per_unit"]
    unit_price: Number = Decimalish


class TieredPrice(_PriceBase):
    model: Literal["graduated", "volume"] = Field(description="graduated: each tier prices its own units; volume: the "
                                                              "tier reached prices every unit.")
    tiers: list[Tier] = Field(min_length=1)


class PackagePrice(_PriceBase):
    model: Literal["package"]
    package_size: Number = Field(description="Units per package; every started package is charged.")
    package_price: Number = Decimalish


class FlatPrice(_Strict):
    model: Literal["flat"]
    amount: Number = Field(description="Charged whatever the quantity.")
    minimum: Optional[Number] = None
    maximum: Optional[Number] = None


Price = Union[PerUnitPrice, TieredPrice, PackagePrice, FlatPrice]


class PerUnitLine(_Strict):
    """A meter priced per unit (the short form)."""

    meter_id: str = Field(min_length=1)
    price_per_unit: Number = Decimalish
    free_threshold: Optional[Number] = Field(None, description="Units free each period.")
    description: Optional[str] = Field(None, max_length=255, description="Invoice line text (default: the meter's name).")


class PricedLine(_Strict):
    """A meter with a full price model."""

    meter_id: str = Field(min_length=1)
    price: Price
    description: Optional[str] = Field(None, max_length=255, description="Invoice line text (default: the meter's name).")


class CreditLine(_Strict):
    """A meter paid with credits: every ``meter_units_per_credit`` units deduct one credit as events arrive."""

    meter_id: str = Field(min_length=1)
    credit_entitlement_id: str = Field(min_length=1, max_length=40, description="The credit entitlement it deducts.")
    meter_units_per_credit: Number = Field(description="Meter units that make one credit (> 0).")
    description: Optional[str] = Field(None, max_length=255, description="Invoice line text (default: the meter's name).")


class CreditAttach(_Strict):
    """Credits each subscription to the product receives (Dodo's ``AttachCreditEntitlementParam``)."""

    credit_entitlement_id: str = Field(min_length=1, max_length=40)
    credits_amount: Number = Field(description="Credits issued at the start of every billing cycle (× quantity).")
    trial_credits: Optional[Number] = Field(None, description="Credits granted once when a subscription is created.")
    trial_credits_expire_after_trial: Optional[bool] = Field(None, description="Trial credits expire at the end of "
                                                                               "the first period.")


class BillingPeriod(BaseModel):
    interval: str = Field("month", description="day, week, month or year (case-insensitive).")
    count: int = Field(1, ge=1, le=3650)


class ProductCreate(_Strict):
    """A product: an optional fixed fee per billing period plus up to 10 priced meters."""

    name: str = Field(min_length=1, max_length=255, examples=["Pro"])
    currency: str = Field(pattern="^[A-Za-z]{3}$", description="ISO 4217, e.g. USD (JPY has no minor unit, KWD three).",
                          examples=["USD"])
    fixed_fee: Optional[Number] = Field(None, description="Per period, in major units ('49.00'); must fit the "
                                                          "currency's minor unit. Default 0.")
    description: Optional[str] = Field(None, max_length=4000)
    billing_period: Optional[BillingPeriod] = Field(None, description="Default: monthly.")
    meters: Optional[list[Union[PerUnitLine, PricedLine, CreditLine]]] = Field(None, max_length=10)
    credit_entitlements: Optional[list[CreditAttach]] = Field(None, max_length=5, description="Credits issued per "
                                                                                             "billing cycle.")
    metadata: Optional[dict[str, Any]] = None
    tax_category: Optional[str] = None
    grace_period_hours: Optional[int] = Field(None, ge=0, le=8760, description="Hours after a period's end during which its "
                                                          "invoice stays a draft, re-priced as late events arrive; a run "
                                                          "finalizes only periods past it. Default 0.")


class Threshold(_Strict):
    meter_id: Optional[str] = Field(None, description="With quantity: the meter's value this period.")
    quantity: Optional[Number] = None
    amount: Optional[Number] = Field(None, description="Alone: the period's total so far.")


class SubscriptionCreate(_Strict):
    customer_id: str = Field(min_length=1, max_length=255, description="An existing customer (POST /v1/customers).",
                             examples=["cus_acme"])
    product_id: str = Field(min_length=1, max_length=255, examples=["prd_…"])
    start: Optional[str] = Field(None, description="ISO-8601 instant; default now.", examples=["2025-01-01T00:00:00Z"])
    anchor_day: Optional[int] = Field(None, ge=1, le=31, description="Monthly plans: bill on this day of the month "
                                                                     "(the first period is a prorated stub).")
    quantity: int = Field(1, ge=1, le=1_000_000, description="Multiplies the fixed fee.")
    thresholds: Optional[list[Threshold]] = Field(None, max_length=20,
                                                  description="usage.threshold_reached webhooks, once per period.")
    metadata: Meta = Field(None, description=META)
    billing: Optional[dict[str, Any]] = Field(None, description="Billing address (free form).")
    grace_period_hours: Optional[int] = Field(None, ge=0, le=8760, description="Overrides the product's grace "
                                                                             "period (hours).")


class ChangePlan(_Strict):
    product_id: str = Field(description="The new product (same currency and billing period).")
    effective_at: Optional[str] = Field(None, description="ISO-8601 instant inside a period not yet invoiced; default now.")
    quantity: Optional[int] = Field(None, ge=1)


class Cancel(_Strict):
    at_period_end: bool = Field(True, description="true: cancel at the end of the current period; false: undo a "
                                                  "pending cancellation.")


class InvoiceAt(_Strict):
    at: str = Field(description="An ISO-8601 instant inside the (ended) period to invoice.")


class InvoiceRun(_Strict):
    until: Optional[str] = Field(None, description="Bill every period ended by this ISO-8601 instant (default now).")
    finalize: bool = Field(False, description="Also finalize the invoices whose grace period has passed (re-priced, "
                                              "then frozen); the others stay drafts.")
    finalize_now: bool = Field(False, description="Finalize every ended period now, grace period or not.")
    lookback_days: int = Field(90, ge=0, le=36600, description="Check periods finalized within this many days "
                                                               "before 'until' for late usage (adjustments).")


# -- answers --------------------------------------------------------------------------------------
class CustomerOut(BaseModel):
    id: str
    object: Literal["customer"]
    email: str
    name: str
    phone_number: Optional[str]
    metadata: dict[str, Any]
    environment: str
    created_at: str


class CustomerPage(BaseModel):
    data: list[CustomerOut]


class ProductLine(BaseModel):
    meter_id: str
    price: dict[str, Any] = Field(description="The price model: {model, …} as given, numbers as exact text.")
    description: Optional[str]
    credit_entitlement_id: Optional[str] = Field(None, description="Paid with these credits (price zero).")
    meter_units_per_credit: Optional[str] = None


class CreditAttachOut(BaseModel):
    credit_entitlement_id: str
    credits_amount: str
    trial_credits: Optional[str]
    trial_credits_expire_after_trial: bool


class BillingPeriodOut(BaseModel):
    interval: Literal["day", "week", "month", "year"]
    count: int


class ProductOut(BaseModel):
    id: str
    object: Literal["product"]
    name: str
    description: Optional[str]
    currency: str
    fixed_fee: str = Field(description="Exact decimal text in major units.")
    billing_period: BillingPeriodOut
    meters: list[ProductLine]
    grace_period_hours: Optional[int] = Field(description="null: the default (0 hours).")
    credit_entitlements: list[CreditAttachOut] = Field(description="Credits a subscription receives per cycle.")
    metadata: dict[str, Any]
    archived: bool
    environment: str
    created_at: str
    updated_at: str


class ProductPage(BaseModel):
    data: list[ProductOut]


class PlanSegment(BaseModel):
    product_id: str
    quantity: int
    effective_at: str


class SubscriptionOut(BaseModel):
    id: str
    object: Literal["subscription"]
    customer_id: str
    product_id: str
    quantity: int
    status: Literal["active", "cancelled"]
    start: str
    billing_anchor: str
    billing_period: BillingPeriodOut
    cancel_at_period_end: bool
    ends_at: Optional[str]
    plan_history: list[PlanSegment]
    thresholds: list[dict[str, Any]]
    grace_period_hours: Optional[int] = Field(description="null: the product's.")
    metadata: dict[str, Any]
    environment: str
    created_at: str
    updated_at: str


class SubscriptionPage(BaseModel):
    data: list[SubscriptionOut]


class InvoiceLineOut(BaseModel):
    """One priced line; usage lines add their pricing detail (model, tiers, packages, exact amounts)."""

    model_config = ConfigDict(extra="allow")
    kind: Literal["fixed", "usage", "adjustment"] = Field(
        description="adjustment: usage of an earlier, finalized period that arrived after it was invoiced.")
    description: str
    product_id: str
    meter_id: Optional[str]
    period_start: str
    period_end: str
    quantity: str
    free_units: str
    billable_units: str
    unit_price: Optional[str]
    amount: str = Field(description="Rounded once, half-up, to the currency's minor unit.")


class InvoiceOut(BaseModel):
    id: str
    object: Literal["invoice"]
    environment: str
    subscription_id: str
    customer_id: str
    status: Literal["draft", "finalized", "void"]
    currency: str
    period_start: str
    period_end: str
    lines: list[InvoiceLineOut]
    subtotal: str
    total: str
    created_at: str
    finalized_at: Optional[str]
    voided_at: Optional[str]


class InvoicePage(BaseModel):
    data: list[InvoiceOut]


class UpcomingInvoice(BaseModel):
    object: Literal["upcoming_invoice"]
    subscription_id: str
    customer_id: str
    as_of: str = Field(description="Usage counted up to this instant.")
    currency: str
    period_start: str
    period_end: str
    lines: list[InvoiceLineOut]
    subtotal: str
    total: str = Field(description="The amount due so far this period.")


class RunOut(BaseModel):
    run_id: str = Field(description="GET /v1/invoice-runs/{run_id} lists it later.")
    created: list[str] = Field(description="Invoice ids created by this run.")
    existing: list[str] = Field(description="Due periods already invoiced as drafts (re-priced).")
    finalized: list[str]
    in_grace: list[str] = Field(description="Drafts not finalized: their grace period has not passed.")
    adjustments: list[str] = Field(description="Adjustments of late usage recorded (GET /v1/adjustments).")
    skipped: list[SkippedPeriod] = Field(description="Periods that could not be priced; every other one was billed.")
    thresholds_reached: int


class ThresholdsOut(BaseModel):
    reached: list[str] = Field(description="Threshold keys newly reached (a webhook message each).")
