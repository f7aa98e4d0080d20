"""Pydantic models documenting the Dodo-compatible billing routes (the ``dodopayments`` SDK's shapes).

Money here is integer minor units (``fixed_price: 4900`` is $49.00; ``price_per_unit: "2"`` is
$0.02). Bodies allow the SDK's other fields (``additionalProperties``): the SDK sends them and
meterbase ignores what it does not bill. Bodies are parsed by ``billing.dodo`` / the native core.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class DodoMeterPrice(_Open):
    meter_id: str
    price_per_unit: Optional[Union[str, int, float]] = Field(None, description="Minor units per unit ('2' = $0.02).")
    free_threshold: Optional[int] = Field(None, ge=0, description="Units free each period.")


class DodoPriceIn(_Open):
    type: Literal["usage_based_price", "recurring_price", "one_time_price"] = Field(
        description="one_time_price is refused (meterbase bills recurring periods).")
    currency: str = Field(description="ISO 4217 code, e.g. USD.")
    price: Optional[int] = Field(None, ge=0, description="recurring_price: the fee per period, minor units.")
    fixed_price: Optional[int] = Field(None, ge=0, description="usage_based_price: the fee per period, minor units.")
    meters: Optional[list[DodoMeterPrice]] = Field(None, description="usage_based_price: priced meters.")
    payment_frequency_interval: Optional[str] = Field(None, description="Day, Week, Month or Year (default Month).")
    payment_frequency_count: Optional[int] = Field(None, ge=1)


class DodoProductCreate(_Open):
    name: str = Field(min_length=1, max_length=255)
    price: DodoPriceIn
    tax_category: Literal["digital_products", "saas", "e_book", "edtech", "live_tutoring"]
    description: Optional[str] = None
    metadata: Optional[dict[str, Any]] = None


class DodoCustomerCreate(_Open):
    email: str = Field(min_length=1, max_length=255, description="Required (must contain @).")
    name: str = Field(min_length=1, max_length=255)
    phone_number: Optional[str] = None
    metadata: Optional[dict[str, Union[str, int, float, bool]]] = None


class DodoCustomerRef(_Open):
    customer_id: Optional[str] = Field(None, description="An existing customer; or give email (and name).")
    email: Optional[str] = Field(None, description="Found by email, else created.")
    name: Optional[str] = None


class DodoBilling(_Open):
    country: str = Field(description="Required by Dodo; kept as given.")


class DodoSubscriptionCreate(_Open):
    customer: DodoCustomerRef
    product_id: str
    billing: DodoBilling
    quantity: Optional[int] = Field(None, ge=1)
    metadata: Optional[dict[str, Any]] = None


class DodoProductOut(_Open):
    product_id: str
    business_id: str
    name: str
    description: Optional[str]
    price: dict[str, Any] = Field(description="Dodo Price: usage_based_price or recurring_price, minor units.")
    tax_category: str
    is_recurring: bool
    metadata: dict[str, Any]
    created_at: str
    updated_at: str


class DodoProductItem(_Open):
    product_id: str
    business_id: str
    name: str
    currency: str
    price: int = Field(description="The fixed fee in minor units.")
    price_detail: dict[str, Any]
    created_at: str
    updated_at: str


class DodoProductPage(BaseModel):
    items: list[DodoProductItem]


class DodoCustomerOut(_Open):
    customer_id: str
    business_id: str
    email: str
    name: str
    phone_number: Optional[str]
    metadata: dict[str, Any]
    created_at: str


class DodoCustomerPage(BaseModel):
    items: list[DodoCustomerOut]


class DodoSubscriptionOut(_Open):
    subscription_id: str
    product_id: str
    quantity: int
    status: str
    customer: dict[str, Any]
    currency: str
    recurring_pre_tax_amount: int = Field(description="Fixed fee × quantity, minor units.")
    next_billing_date: str
    previous_billing_date: str
    created_at: str


class DodoSubscriptionPage(BaseModel):
    items: list[DodoSubscriptionOut]


class DodoSubscriptionCreated(_Open):
    subscription_id: str
    payment_id: str
    customer: dict[str, Any]
    recurring_pre_tax_amount: int
