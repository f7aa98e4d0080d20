"""Live sessions API under ``/v1`` (seed 004, "meter at stop"), durable in the server's database.

The API key's environment selects the sessions and the policy that meters them. Amounts are exact decimal
strings in the credit's units; errors the usual ``{code, message, field}``.

* ``POST /v1/sessions`` ``{customer_id, session_id?, entitlement?="gpu_compute", access_entitlement?="gpu_access"
  (null: none), plan?, description?, allow_overage?=false}`` — pre-start check, then start. ``201`` with
  ``ok: true`` when started; ``200`` with ``ok: true, replayed: true`` for a retried start of a running
  session; a refusal is a ``200`` with ``ok: false`` and ``code`` ``NO_ACCESS`` / ``QUOTA_EXHAUSTED`` (like the
  policy API's refusals), nothing stored.
* ``POST /v1/sessions/{id}/heartbeat`` — keep alive; ``409 session_not_running`` once stopped or reaped.
* ``POST /v1/sessions/{id}/stop`` — meter ``ceil(duration)`` exactly once; repeating returns the same
  result with ``replayed: true``.
* ``GET /v1/sessions/{id}``; ``GET /v1/sessions?customer_id=&status=&limit=``;
  ``GET /v1/customers/{id}/sessions`` (same list for one customer).
* ``GET /v1/customers/{id}/sessions/display?entitlement=gpu_compute`` — used / limit / remaining / percent and
  the running session (the seed's ``getComputeDisplay``).
* ``POST /v1/sessions/reap`` ``{max_idle_seconds?=1800, charge_until?="now"}`` — one reaper pass over this
  environment (``meterbase sessions reap`` does the same from cron or as a loop).

Request and answer shapes are the models of :mod:`.sessions_schemas` (in ``/openapi.json``); answers are the
service's ``to_dict()`` sent as they are, so the models document them without filtering them.
"""

from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ...errors import ValidationError
from ...sessions.core import CHARGE_UNTIL, DEFAULT_ACCESS, DEFAULT_ENTITLEMENT, STATUSES
from ...sessions.service import SessionService
from ..auth import Principal, principal, writer
from ..deps import json_body
from . import sessions_schemas as S
from .policy import policy_service
from .policy_schemas import body as _documented

router = APIRouter(prefix="/v1", tags=["sessions"])


def _svc(request: Request, p: Principal) -> SessionService:
    policy = policy_service(request.app, p.environment)
    return SessionService(policy.store, policy)


def _object(body: Any, allowed: set[str]) -> dict:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ValidationError("body must be a JSON object", "body")
    extra = sorted(set(body) - allowed)
    if extra:
        raise ValidationError(f"unknown field(s): {', '.join(extra)}", extra[0])
    return body


async def _optional_body(request: Request, allowed: set[str]) -> dict:
    raw = await request.body()
    if not raw.strip():
        return {}
    return _object(await json_body(request), allowed)


def _str(body: dict, key: str, default: Optional[str] = None, *, required: bool = False, nullable: bool = False):
    if key not in body or (body[key] is None and not nullable):
        if required:
            raise ValidationError(f"{key} is required and must be a non-empty string", key)
        return default
    value = body[key]
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{key} must be a non-empty string" + (" or null" if nullable else ""), key)
    return value


def _bool(body: dict, key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise ValidationError(f"{key} must be true or false", key)
    return value


def _status(status: Optional[str]) -> Optional[str]:
    if status is not None and status not in STATUSES:
        raise ValidationError(f"status must be one of {', '.join(STATUSES)}", "status")
    return status


_SESSION = Path(description="The session's id.")
_CUSTOMER = Path(description="The customer's id.")
_STATUS = Query(None, description="Only sessions in this status: running, stopping or stopped.")
_LIMIT = Query(100, ge=1, le=1000, description="At most this many sessions, newest first.")


@router.post("/sessions", summary="Pre-start check, then start a live session", response_model=S.StartOut,
             responses={201: {"model": S.StartOut, "description": "Started."}},
             openapi_extra=_documented(S.StartSessionIn, "The session to start."))
async def start_session(request: Request, p: Principal = Depends(writer)):
    body = _object(await json_body(request), {"customer_id", "session_id", "entitlement", "access_entitlement",
                                              "plan", "description", "allow_overage"})
    svc = _svc(request, p)
    kwargs = dict(
        customer_id=_str(body, "customer_id", required=True),
        session_id=_str(body, "session_id"),
        entitlement=_str(body, "entitlement", DEFAULT_ENTITLEMENT),
        access_entitlement=_str(body, "access_entitlement", DEFAULT_ACCESS, nullable=True),
        plan=_str(body, "plan"),
        description=_str(body, "description"),
        allow_overage=_bool(body, "allow_overage"),
    )
    result = await run_in_threadpool(lambda: svc.start(**kwargs))
    status = 201 if result.ok and not result.replayed else 200
    return JSONResponse(result.to_dict(svc.now_us()), status_code=status)


@router.get("/sessions", summary="Sessions, newest first", response_model=S.SessionsOut)
def list_sessions(request: Request,
                  customer_id: Optional[str] = Query(None, description="Only this customer's sessions."),
                  status: Optional[str] = _STATUS, limit: int = _LIMIT, p: Principal = Depends(principal)):
    svc = _svc(request, p)
    now = svc.now_us()
    return JSONResponse({"data": [s.to_dict(now) for s in svc.list(customer_id, _status(status), limit)]})


@router.post("/sessions/reap", summary="Stop and meter sessions without a heartbeat for max_idle_seconds",
             response_model=S.ReapOut, openapi_extra={"requestBody": {**_documented(S.ReapIn, "Optional settings; an "
                                                                                        "empty body uses the defaults.")["requestBody"], "required": False}})
async def reap(request: Request, p: Principal = Depends(writer)):
    body = await _optional_body(request, {"max_idle_seconds", "charge_until", "recover_after"})
    max_idle = body.get("max_idle_seconds", 1800)
    recover = body.get("recover_after", 60)
    for name, value in (("max_idle_seconds", max_idle), ("recover_after", recover)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValidationError(f"{name} must be a non-negative number of seconds", name)
    charge_until = body.get("charge_until", "now")
    if charge_until not in CHARGE_UNTIL:
        raise ValidationError(f"charge_until must be one of {', '.join(CHARGE_UNTIL)}", "charge_until")
    svc = _svc(request, p)
    result = await run_in_threadpool(lambda: svc.reap(max_idle, charge_until=charge_until, recover_after=recover))
    return JSONResponse(result.to_dict())


@router.get("/sessions/{session_id}", summary="One session", response_model=S.SessionOut)
def get_session(request: Request, session_id: str = _SESSION, p: Principal = Depends(principal)):
    svc = _svc(request, p)
    return JSONResponse(svc.require(session_id).to_dict(svc.now_us()))


@router.post("/sessions/{session_id}/heartbeat", summary="Keep a running session alive", response_model=S.SessionOut)
async def heartbeat(request: Request, session_id: str = _SESSION, p: Principal = Depends(writer)):
    svc = _svc(request, p)
    session = await run_in_threadpool(svc.heartbeat, session_id)
    return JSONResponse(session.to_dict(svc.now_us()))


@router.post("/sessions/{session_id}/stop", summary="Stop and meter the session (exactly once)", response_model=S.StopOut)
async def stop(request: Request, session_id: str = _SESSION, p: Principal = Depends(writer)):
    svc = _svc(request, p)
    result = await run_in_threadpool(svc.stop, session_id)
    return JSONResponse(result.to_dict())


@router.get("/customers/{customer_id}/sessions", summary="A customer's sessions, newest first", response_model=S.SessionsOut)
def customer_sessions(request: Request, customer_id: str = _CUSTOMER, status: Optional[str] = _STATUS,
                      limit: int = _LIMIT, p: Principal = Depends(principal)):
    svc = _svc(request, p)
    now = svc.now_us()
    return JSONResponse({"data": [s.to_dict(now) for s in svc.list(customer_id, _status(status), limit)]})


@router.get("/customers/{customer_id}/sessions/display", summary="Used / limit / remaining and the running session",
            response_model=S.DisplayOut)
def display(request: Request, customer_id: str = _CUSTOMER,
            entitlement: str = Query(DEFAULT_ENTITLEMENT, description="The metered entitlement to show."),
            p: Principal = Depends(principal)):
    return JSONResponse(_svc(request, p).display(customer_id, entitlement).to_dict())
