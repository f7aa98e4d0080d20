"""Pydantic models of the credits API: request bodies and responses, so ``/openapi.json`` documents them
(the wallets' are in ``api.wallet_schemas``). Types are checked here; the domain (``meterbase.credits``) applies the rules (precision,
bounds, the merged entitlement rules) and names the offending field in a 422.

Dodo-compatible models mirror the ``dodopayments`` SDK 1.123 types (``CreditEntitlement``,
``CustomerCreditBalance``, ``CreditLedgerEntry``, ``BalanceCreateLedgerEntryResponse``,
``BalanceListGrantsResponse``, ``SubscriptionRetrieveCreditUsageResponse``); Dodo prices are in the
currency's minor unit (``price_per_unit: "1"`` is one cent), native prices in major units.
"""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

Behavior = Literal["forgive_at_reset", "invoice_at_billing", "carry_deficit", "carry_deficit_auto_repay"]
Interval = Literal["Day", "Week", "Month", "Year"]
Scalar = Union[str, int, float, bool]
Number = Union[str, int]
TransactionType = Literal["credit_added", "credit_deducted", "credit_expired", "credit_rolled_over",
                          "rollover_forfeited", "overage_charged", "overage_reset", "manual_adjustment"]
AMOUNT = "Decimal string with at most the entitlement's precision places, below 10^10 (e.g. '100' or '2.5')."


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _EntitlementFields(_Body):
    currency: Optional[str] = Field(None, description="ISO 4217 code; required when price_per_unit is set.")
    description: Optional[str] = Field(None, max_length=1000)
    expires_after_days: Optional[int] = Field(None, ge=1, le=36500, description="Credits expire this many days "
                                                                               "after they are granted.")
    max_rollover_count: Optional[int] = Field(None, ge=0, le=3650, description="Times a grant may roll over in a row.")
    overage_behavior: Optional[Behavior] = Field(None, description="At cycle end; default forgive_at_reset.")
    rollover_percentage: Optional[int] = Field(None, ge=0, le=100)
    rollover_timeframe_count: Optional[int] = Field(None, ge=1, le=3650)
    rollover_timeframe_interval: Optional[Interval] = None
    low_balance_threshold_percent: Optional[int] = Field(None, ge=0, le=100, description="meterbase: send "
                                                         "credit.balance_low below this % of the last top-up.")
    covers_policy_usage: Optional[bool] = Field(None, description="meterbase: a money credit (price_per_unit = money "
                                                "per credit) whose balances pay for allow()'s priced usage before it "
                                                "becomes overage; one per environment.")


class CreditEntitlementCreate(_EntitlementFields):
    """Native create (``/v1``): ``price_per_unit`` in major units, ``overage_limit`` a decimal string."""

    name: str = Field(min_length=1, max_length=255)
    unit: str = Field(min_length=1, max_length=50, description="e.g. 'API Calls', 'Tokens', 'Credits'.")
    precision: int = Field(0, ge=0, le=10, description="Decimal places of every amount; fixed at creation.")
    overage_enabled: bool = False
    rollover_enabled: bool = False
    overage_limit: Optional[Number] = Field(None, description="Most overage allowed (credits); null: unlimited.")
    price_per_unit: Optional[Number] = Field(None, description="Overage price per credit, major units ('0.01').")


class DodoCreditEntitlementCreate(_EntitlementFields):
    """Dodo's ``CreditEntitlementCreateParams``: ``price_per_unit`` in minor units, ``overage_limit`` integer."""

    name: str = Field(min_length=1, max_length=255)
    unit: str = Field(min_length=1, max_length=50)
    precision: int = Field(ge=0, le=10)
    overage_enabled: bool
    rollover_enabled: bool
    overage_limit: Optional[int] = Field(None, ge=0)
    price_per_unit: Optional[str] = Field(None, description="Minor units of currency per credit ('1' = 1 cent).")


class CreditEntitlementUpdate(_EntitlementFields):
    """Partial update: fields present with null clear the value; precision cannot change."""

    name: Optional[str] = Field(None, min_length=1, max_length=255)
    unit: Optional[str] = Field(None, min_length=1, max_length=50)
    overage_enabled: Optional[bool] = None
    rollover_enabled: Optional[bool] = None
    overage_limit: Optional[Number] = None
    price_per_unit: Optional[Number] = None


class DodoCreditEntitlementUpdate(CreditEntitlementUpdate):
    overage_limit: Optional[int] = Field(None, ge=0)
    price_per_unit: Optional[str] = None


class LedgerEntryCreate(_Body):
    """Dodo's ``BalanceCreateLedgerEntryParams``: a credit makes a grant; a debit deducts FIFO, then overage."""

    amount: Number = Field(description=AMOUNT)
    entry_type: Literal["credit", "debit"]
    expires_at: Optional[str] = Field(None, description="ISO-8601; credits only (default: expires_after_days).")
    idempotency_key: Optional[str] = Field(None, max_length=255, description="A replay returns the original entry.")
    metadata: Optional[dict[str, Scalar]] = Field(None, description="≤ 50 pairs, keys ≤ 40, values ≤ 500 chars.")
    reason: Optional[str] = Field(None, max_length=1000)


class GrantCreate(_Body):
    """Native grant with its source (a subscription's or one-time purchase's credits)."""

    amount: Number = Field(description=AMOUNT)
    expires_at: Optional[str] = None
    source_type: Literal["api", "one_time", "addon", "subscription"] = "api"
    source_id: Optional[str] = Field(None, max_length=255)
    idempotency_key: Optional[str] = Field(None, max_length=255)
    metadata: Optional[dict[str, Scalar]] = None
    reason: Optional[str] = Field(None, max_length=1000)


class AdjustmentCreate(_Body):
    """A manual adjustment: a positive amount grants, a negative one deducts (never into overage)."""

    amount: Number = Field(description="Signed decimal string, e.g. '-25' or '10.5'.")
    idempotency_key: Optional[str] = Field(None, max_length=255)
    metadata: Optional[dict[str, Scalar]] = None
    reason: Optional[str] = Field(None, max_length=1000)


class CycleSet(_Body):
    """The balance's billing cycle: boundaries at anchor + k × interval; credits_per_cycle issued at each start."""

    anchor: str = Field(description="ISO-8601 instant cycles repeat from.")
    interval: Literal["day", "week", "month", "year", "Day", "Week", "Month", "Year"] = "month"
    interval_count: int = Field(1, ge=1, le=3650)
    credits_per_cycle: Optional[Number] = Field(None, description=AMOUNT)
    source_id: Optional[str] = Field(None, max_length=255, description="e.g. the subscription id.")


# -- responses ----------------------------------------------------------------------------------------
class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CreditEntitlementOut(_Out):
    id: str
    name: str
    description: Optional[str] = None
    unit: str
    precision: int
    currency: Optional[str] = None
    price_per_unit: Optional[str] = Field(None, description="Major units per credit.")
    expires_after_days: Optional[int] = None
    rollover_enabled: bool
    rollover_percentage: Optional[int] = None
    rollover_timeframe_count: Optional[int] = None
    rollover_timeframe_interval: Optional[str] = None
    max_rollover_count: Optional[int] = None
    overage_enabled: bool
    overage_limit: Optional[str] = None
    overage_behavior: str
    low_balance_threshold_percent: Optional[int] = None
    covers_policy_usage: bool = Field(False, description="Its balances pay for allow()'s priced usage.")
    created_at: str
    updated_at: str
    deleted_at: Optional[str] = None


class DodoCreditEntitlement(_Out):
    id: str
    business_id: str
    created_at: str
    name: str
    overage_behavior: str
    overage_enabled: bool
    precision: int
    rollover_enabled: bool
    unit: str
    updated_at: str
    currency: Optional[str] = None
    description: Optional[str] = None
    expires_after_days: Optional[int] = None
    max_rollover_count: Optional[int] = None
    overage_limit: Optional[int] = None
    price_per_unit: Optional[str] = Field(None, description="Minor units per credit.")
    rollover_percentage: Optional[int] = None
    rollover_timeframe_count: Optional[int] = None
    rollover_timeframe_interval: Optional[str] = None
    low_balance_threshold_percent: Optional[int] = None


class CycleOut(_Out):
    anchor: str
    interval: str
    interval_count: int
    credits_per_cycle: Optional[str] = None
    source_id: Optional[str] = None
    starts_at: Optional[str] = Field(None, description="A subscription's start (product credits): none before it.")
    ends_at: Optional[str] = Field(None, description="A subscription's end: no credits for cycles from it on.")


class CreditBalanceOut(_Out):
    id: Optional[str] = Field(None, description="null until the customer's first ledger entry.")
    credit_entitlement_id: str
    customer_id: str
    balance: str
    overage: str
    cycle: Optional[CycleOut] = None
    next_event_at: Optional[str] = Field(None, description="Next expiry or cycle end.")
    last_transaction_at: Optional[str] = None
    created_at: Optional[str] = None
    updated_at: Optional[str] = None


class DodoCustomerCreditBalance(_Out):
    id: str
    balance: str
    created_at: str
    credit_entitlement_id: str
    customer_id: str
    overage: str
    updated_at: str
    last_transaction_at: Optional[str] = None


class GrantOut(_Out):
    id: str
    created_at: str
    credit_entitlement_id: str
    customer_id: str
    initial_amount: str
    remaining_amount: str
    is_expired: bool
    is_rolled_over: bool
    rollover_count: int
    source_type: Literal["subscription", "one_time", "addon", "api", "rollover"]
    updated_at: str
    expires_at: Optional[str] = None
    metadata: Optional[dict[str, Scalar]] = None
    parent_grant_id: Optional[str] = None
    source_id: Optional[str] = None
    status: Optional[Literal["active", "expired", "depleted"]] = None
    closed: Optional[str] = None
    closed_at: Optional[str] = None
    cycle_end: Optional[str] = None


class Allocation(_Out):
    grant_id: str
    amount: str


class LedgerEntryOut(_Out):
    id: str
    credit_entitlement_id: str
    customer_id: str
    transaction_type: TransactionType
    is_credit: bool
    amount: str
    balance_before: str
    balance_after: str
    overage_before: str
    overage_after: str
    grant_id: Optional[str] = None
    allocations: list[Allocation] = Field(description="Grants a deduction took from (FIFO), or a rollover moved.")
    reason: Optional[str] = None
    metadata: dict[str, Scalar]
    period_start: Optional[str] = None
    period_end: Optional[str] = None
    unit_price: Optional[str] = None
    currency: Optional[str] = None
    reference_type: Optional[str] = None
    reference_id: Optional[str] = None
    idempotency_key: Optional[str] = None
    created_at: str = Field(description="When it took effect (an expiry: the expiry instant).")
    recorded_at: str
    replayed: bool = Field(False, description="True when an idempotency key returned the original entry.")


class DodoCreditLedgerEntry(_Out):
    id: str
    amount: str
    balance_after: str
    balance_before: str
    brand_id: str
    business_id: str
    created_at: str
    credit_entitlement_id: str
    customer_id: str
    is_credit: bool
    metadata: dict[str, Scalar]
    overage_after: str
    overage_before: str
    transaction_type: TransactionType
    description: Optional[str] = None
    grant_id: Optional[str] = None
    reference_id: Optional[str] = None
    reference_type: Optional[str] = None


class DodoLedgerEntryCreated(_Out):
    id: str
    amount: str
    balance_after: str
    balance_before: str
    created_at: str
    credit_entitlement_id: str
    customer_id: str
    entry_type: Literal["credit", "debit"]
    is_credit: bool
    metadata: dict[str, Scalar]
    overage_after: str
    overage_before: str
    grant_id: Optional[str] = None
    reason: Optional[str] = None


class CustomerCreditItem(_Out):
    """Dodo's ``customers.list_credit_entitlements`` item."""

    balance: str
    credit_entitlement_id: str
    name: str
    overage: str
    unit: str
    description: Optional[str] = None


class CustomerCreditOut(CreditBalanceOut):
    """A customer's balance of one entitlement, with the entitlement's name and unit (native)."""

    name: str
    unit: str
    description: Optional[str] = None


class OverageChargeOut(_Out):
    """Overage invoiced at a cycle end (invoice_at_billing), priced: quantity × unit_price, rounded once."""

    credit_entitlement_id: str
    ledger_entry_id: str
    period_start: Optional[str] = None
    period_end: Optional[str] = None
    quantity: str
    unit_price: str
    amount: str
    currency: str


class SubscriptionCreditItem(_Out):
    """Dodo's ``SubscriptionRetrieveCreditUsageResponse`` item: a credit the subscription's product uses."""

    balance: str = Field(description="The customer's balance (customer-wide).")
    credit_entitlement_id: str
    credit_entitlement_name: str
    limit_reached: bool = Field(description="Further deductions past zero would be refused.")
    overage: str
    overage_enabled: bool
    unit: str
    overage_limit: Optional[str] = None
    remaining_headroom: Optional[str] = Field(None, description="Overage still allowed (null: unlimited or disabled).")


class SubscriptionCreditUsage(_Out):
    items: list[SubscriptionCreditItem]
    subscription_id: str


class SettleOut(_Out):
    settled: int = Field(description="Balances whose due expiries and cycle ends were written.")
    deducted_events: int = Field(0, description="Metered events read by the deduction consumer.")


def items_of(model: type[BaseModel], name: str) -> type[BaseModel]:
    """``{"items": [model]}`` (Dodo pages) as a named response model."""
    return create_model(name, __base__=_Out, items=(list[model], ...))


def data_of(model: type[BaseModel], name: str) -> type[BaseModel]:
    """``{"data": [model]}`` (native lists) as a named response model."""
    return create_model(name, __base__=_Out, data=(list[model], ...))
