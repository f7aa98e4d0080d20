"""Pydantic models documenting the security routes: customer-scoped portal tokens, the audit log and
``/v1/me`` (what the bearer token is). They only document the answers; the routes
(``api/routes/security.py``) build them from ``storage.keys_repo`` and ``storage.audit``.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PortalTokenOut(BaseModel):
    object: Literal["portal_token"]
    id: str
    environment: str
    customer_id: str
    name: str
    prefix: str
    created_at: str
    expires_at: Optional[str]
    revoked_at: Optional[str]


class PortalTokenCreated(PortalTokenOut):
    token: str = Field(description="The token itself: shown in this answer only.")


class PortalTokenCreate(_Strict):
    customer_id: str = Field(min_length=1, max_length=255)
    name: Optional[str] = Field(None, min_length=1, max_length=255)
    expires_at: Optional[str] = Field(None, description="ISO-8601 instant in the future.")


class PortalTokenPage(BaseModel):
    data: list[PortalTokenOut]


class Revoked(BaseModel):
    id: str
    revoked: bool


class AuditEntry(BaseModel):
    object: Literal["audit_entry"]
    id: str
    seq: int
    environment: str
    at: str
    actor: str = Field(description="key_… (API key), cli:<user> or system.")
    action: str
    target: str
    details: dict[str, Any]


class AuditPage(BaseModel):
    data: list[AuditEntry]
    next_before: Optional[int] = Field(description="Pass as before for the next page; null on the last.")


class Me(BaseModel):
    object: Literal["api_key", "portal_token"]
    id: str
    name: str
    environment: str
    read_only: bool
    customer_id: Optional[str] = Field(description="The portal token's customer; null for API keys.")
