"""Pydantic models of the ``/v1/policy`` routes: they document requests and answers in ``/openapi.json``.

The routes parse bodies themselves (so every error names its field the same way on every surface) and answer
with the service's ``to_dict()``; these models describe exactly those shapes (``tests/policy_service`` checks
real answers against them). Amounts and prices are exact decimal strings: amounts in the credit's units,
prices in the policy's money (unrounded; an invoice rounds once per line).
"""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

Dec = Optional[str]
AmountIn = Union[str, int, float]
_AMOUNT = ("A number or a unit string converted into the credit's units (\"90s\", \"1.5hr\", \"10GB\"); negative "
           "for a refund. At most 1e30 in magnitude and 30 decimal places.")



class _Out(BaseModel):
    """An answer: exactly these fields (tests validate real answers against them)."""

    model_config = ConfigDict(extra="forbid")

class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicySourceIn(_In):
    format: Literal["yaml", "json"] = Field("yaml", description="How `source` is written.")
    source: str = Field(description="The policy document text (`policy: {credits, plans}`).")


class EnsureCustomerIn(_In):
    customer_id: str = Field(min_length=1, max_length=255, description="Your id for the customer.")
    plan: Optional[str] = Field(None, description="Plan name; the policy's default plan when omitted.")
    anchor: Optional[str] = Field(None, description="ISO-8601 instant the customer's periods repeat from (default: now).")


class SetPlanIn(_In):
    plan: str = Field(min_length=1, description="The plan to move the customer to.")
    reset_anchor: bool = Field(False, description="Start new periods (and counters) now instead of keeping the anchor.")


class CheckIn(_In):
    customer_id: str = Field(min_length=1, max_length=255, description="The customer.")
    entitlement: str = Field(min_length=1, max_length=255, description="The entitlement of the customer's plan.")
    amount: Optional[AmountIn] = Field(None, description=_AMOUNT + " Omitted: is the entitlement in the plan and "
                                       "(hard limit) is anything left.")


class AllowIn(_In):
    customer_id: str = Field(min_length=1, max_length=255, description="The customer.")
    entitlement: str = Field(min_length=1, max_length=255, description="The entitlement of the customer's plan.")
    amount: AmountIn = Field(description=_AMOUNT)
    idempotency_key: Optional[str] = Field(None, min_length=1, max_length=255,
                                           description="A retry with the same key returns the first decision (or the "
                                                       "Idempotency-Key header; both must agree).")


class PlanSummary(_Out):
    label: str
    period: str = Field(description="The plan's billing period (informational: limits reset on their own reset_inc).")
    default: bool
    entitlements: list[str]
    caps: list[str] = Field(description="Names of the plan's spend caps.")


class PolicyVersionOut(_Out):
    environment: str
    version: int
    format: Literal["yaml", "json"]
    created_at: str
    credits: list[str]
    plans: dict[str, PlanSummary]
    source: Optional[str] = Field(None, description="The document exactly as submitted.")
    created: Optional[bool] = Field(None, description="PUT only: false when the same text was already active.")


class VersionRef(_Out):
    version: int
    format: Literal["yaml", "json"]
    created_at: str


class PolicyVersionsOut(_Out):
    data: list[VersionRef]


class PolicyCustomerOut(_Out):
    customer_id: str
    plan: str
    anchor: str = Field(description="Periods repeat from this instant.")
    created_at: str
    updated_at: str


class CapOut(_Out):
    name: str
    value: str = Field(description="The cap's money ceiling.")
    spent: str = Field(description="Spent against it this cap period before the call.")
    charge: str = Field(description="What this call adds (0 when it did not move the cap).")
    spent_after: str
    remaining: str
    observe_only: bool = Field(description="Never refuses; reports only.")
    crossed: bool = Field(False, description="This call took the spending to the cap's value.")


class DecisionOut(_Out):
    """A check (preview) or allow decision. A refusal is a 200 with `allowed: false` and a `reason`."""

    allowed: bool
    reason: Literal["ok", "not_in_plan", "limit_exceeded", "cap_exceeded"]
    customer_id: str
    entitlement: str
    plan: str
    credit: Optional[str] = Field(description="The limit's credit (null for a boolean entitlement).")
    mode: Optional[Literal["hard", "soft", "observe"]]
    amount: Dec = Field(description="The requested amount in the credit's units.")
    consumed: str = Field(description="What allow added to usage (0 for check and refusals; negative for a refund).")
    used: str = Field(description="Usage this period before the call.")
    used_after: str
    limit: Dec
    remaining: Dec = Field(description="max(0, limit - used_after).")
    overage: str = Field(description="Change in billable units past a soft limit, after a covering balance.")
    over_limit: bool = Field(description="Usage is past the limit after the call (soft and observe limits).")
    price_diff: Dec = Field(description="What the call's billable units are worth at list price, from the customer's "
                                        "tier position (a refused call: what it would have been). Null when unpriced.")
    overage_price: Dec = Field(description="The price of `overage`: what to bill for this call.")
    overhead_cost: Dec = Field(description="What the call costs you (units × the credit's overhead_cost).")
    covered: Dec = Field(description="Units a covering balance (grants) paid for.")
    covered_price: Dec = Field(description="Money drawn from the covering balance.")
    cap: Optional[str] = Field(description="The spend cap that refused the call.")
    caps: list[CapOut] = Field(description="The plan's spend caps covering this entitlement.")
    period_start: Dec
    period_end: Dec
    event_id: Optional[str] = Field(description="The usage event an allow recorded.")
    replayed: bool = Field(description="An idempotency key returned an earlier decision.")
    policy_version: Optional[int]


class EntitlementStatusOut(_Out):
    """An entitlement's standing this period, with what the period's calls were worth."""

    customer_id: str
    entitlement: str
    plan: str
    included: bool
    credit: Optional[str]
    mode: Optional[Literal["hard", "soft", "observe"]]
    used: Dec
    limit: Dec = Field(description="Null without a limit, and for observe limits (as Limitr).")
    remaining: Dec = Field(description="max(0, limit - used).")
    percent: Dec = Field(description="Usage as a percent of the limit, capped at 100 (100 for a zero limit).")
    remaining_percent: Dec
    overage: Dec
    price: Dec = Field(description="Sum of the period's price_diff (null for periods counted before prices were kept).")
    overage_price: Dec = Field(description="Sum of the period's overage_price: the overage to bill.")
    cost: Dec = Field(description="Sum of the period's overhead_cost.")
    caps: list[CapOut]
    period_start: Dec
    period_end: Dec


class RemainingOut(_Out):
    customer_id: str
    entitlement: str
    percent: bool
    remaining: Dec


class ValueOut(_Out):
    customer_id: str
    entitlement: str
    percent: bool
    value: Dec


class LimitOut(_Out):
    customer_id: str
    entitlement: str
    limit: Dec


class OverageLineOut(_Out):
    customer_id: str
    entitlement: str
    credit: str
    period_start: Dec
    period_end: Dec
    used: str
    overage: str = Field(description="Billable units past the soft limit this period.")
    price: Dec
    cost: Dec
    line: Optional[dict] = Field(description="The invoice line (`pricing.Line`): exact_amount = sum of the calls' "
                                             "overage_price, amount rounded once. Null when the credit is unpriced.")


class OverageLinesOut(_Out):
    currency: str
    data: list[OverageLineOut]


def body(model: type[BaseModel], description: str) -> dict:
    """``openapi_extra`` documenting a JSON request body the route parses itself."""
    return {"requestBody": {"required": True, "description": description,
                            "content": {"application/json": {"schema": model.model_json_schema(ref_template="#/components/schemas/{model}")}}}}
