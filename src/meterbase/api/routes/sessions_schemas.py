"""Pydantic models of the live-session routes (``/v1/sessions``): documentation for ``/openapi.json``.

The routes parse bodies themselves and answer with the session service's ``to_dict()``; these models describe
those shapes. Amounts are exact decimal strings in the credit's units (seconds for ``gpu_compute``).
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

Dec = Optional[str]



class _Out(BaseModel):
    """An answer: exactly these fields (tests validate real answers against them)."""

    model_config = ConfigDict(extra="forbid")

class StartSessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: str = Field(min_length=1, description="The customer (created on `plan` when new).")
    session_id: Optional[str] = Field(None, description="Your id for the session (generated when omitted); a retried "
                                                        "start of a running session is replayed.")
    entitlement: str = Field("gpu_compute", description="The metered entitlement the session's duration counts against.")
    access_entitlement: Optional[str] = Field("gpu_access", description="Entitlement checked before starting (null: none).")
    plan: Optional[str] = Field(None, description="Plan for a new customer (default plan when omitted).")
    description: Optional[str] = None
    allow_overage: bool = Field(False, description="Start on a soft limit even when nothing is left (the overage is billed).")


class ReapIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_idle_seconds: float = Field(1800, ge=0, description="Stop sessions without a heartbeat for this long.")
    charge_until: Literal["now", "deadline", "last_seen"] = Field(
        "now", description="Meter until now, until the idle deadline (last heartbeat + max_idle_seconds), or until the "
                           "last heartbeat.")
    recover_after: float = Field(60, ge=0, description="Finish stops stuck this long (a crashed stopper).")


class SessionOut(_Out):
    session_id: str
    customer_id: str
    entitlement: str
    access_entitlement: Optional[str]
    description: Optional[str]
    status: Literal["running", "stopping", "stopped"]
    started_at: str
    last_seen_at: str
    heartbeats: int
    stop_reason: Optional[str]
    ended_at: Optional[str]
    duration_seconds: Optional[int]
    charged: Dec = Field(description="What was metered, in the credit's units.")
    capped: bool = Field(description="The metered amount was capped (a hard limit's remainder).")
    outcome_reason: Optional[str] = Field(description="The policy decision's reason when metered.")
    event_id: Optional[str]
    metered_at: Optional[str]
    elapsed_seconds: Optional[int] = Field(None, description="Seconds since start (running sessions, reads only).")


class StartOut(_Out):
    ok: bool
    session_id: Optional[str]
    code: Optional[str] = Field(description="NO_ACCESS or QUOTA_EXHAUSTED when refused.")
    message: Optional[str]
    remaining: Dec
    replayed: bool
    session: Optional[SessionOut]


class StopOut(_Out):
    ok: bool
    session_id: str
    duration_seconds: int
    charged: str
    outcome_reason: Optional[str]
    remaining: Dec
    replayed: bool
    session: SessionOut


class SessionsOut(_Out):
    data: list[SessionOut]


class ReapError(_Out):
    session_id: str
    error: str


class ReapOut(_Out):
    environment: str
    reaped: list[SessionOut]
    recovered: list[SessionOut]
    skipped: list[str]
    errors: list[ReapError]


class ActiveSessionOut(_Out):
    session_id: str
    running_since: str
    last_seen_at: str
    elapsed_seconds: int


class DisplayOut(_Out):
    """The seed's getComputeDisplay: used / limit / remaining / percent and the running session."""

    customer_id: str
    entitlement: str
    used_seconds: str
    limit_seconds: str
    remaining_seconds: str
    used_percent: str
    unlimited: bool
    mode: Optional[str]
    active_session: Optional[ActiveSessionOut]
    active_sessions: list[ActiveSessionOut]
    projected_remaining_seconds: Dec
