"""Route parameters shared by several API modules, each with its description for ``/openapi.json``.

Use them as annotations with the default in the signature: ``limit: Limit = 100``.
"""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import Path, Query

from ..credits.ledger import TRANSACTION_TYPES
from .deps import MAX_OFFSET, MAX_PAGE

CustomerId = Annotated[str, Path(description="The customer's id (the customer_id its events carry).")]
CreditEntitlementId = Annotated[str, Path(description="A credit entitlement id (cent_…).")]
SubscriptionId = Annotated[str, Path(description="A subscription id (sub_…).")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip (page × limit).")]
PageNumber = Annotated[int, Query(ge=0, le=MAX_PAGE, description="0-based page.")]
PageSize = Annotated[int, Query(ge=1, le=100, description="Items per page.")]
Deleted = Annotated[bool, Query(description="List deleted entitlements instead of live ones.")]
Locale = Annotated[Optional[str], Query(description="Accepted for Dodo compatibility; answers are not localised.")]
CustomerFilter = Annotated[Optional[str], Query(description="Only this customer's balance.")]
Currency = Annotated[Optional[str], Query(description="Only this currency's wallet (ISO 4217, e.g. USD).")]
StartDate = Annotated[Optional[str], Query(description="ISO-8601 instant: entries at or after it.")]
EndDate = Annotated[Optional[str], Query(description="ISO-8601 instant: entries before it.")]
GrantStatus = Annotated[Optional[str], Query(description="Only grants in this status: active, expired or depleted.")]
TransactionType = Annotated[Optional[str], Query(
    description="Only entries of this transaction type: " + ", ".join(TRANSACTION_TYPES) + ".")]
