"""Native policy API under ``/v1/policy``: the policy document, customers' plans, and decisions.

The API key's environment selects the policy and its customers. Decisions come back as JSON with exact
decimal strings (``"3600"``, ``"0.5"``); refusals are ordinary ``200`` answers with ``allowed: false`` and a
``reason`` (``not_in_plan`` / ``limit_exceeded``), errors the usual ``{code, message, field}``.

* ``PUT /v1/policy`` — replace the active policy: a YAML body (``Content-Type: application/yaml`` or
  ``text/yaml``/``text/plain``) or JSON (the document itself, ``{"policy": {...}}``, or
  ``{"format": "yaml", "source": "..."}``). Unchanged text keeps its version.
* ``GET /v1/policy``, ``GET /v1/policy/versions``, ``GET /v1/policy/versions/{n}``.
* ``POST /v1/policy/customers`` ``{customer_id, plan?, anchor?}`` — ensure (existing: unchanged).
* ``GET /v1/policy/customers/{id}``; ``PUT /v1/policy/customers/{id}/plan`` ``{plan, reset_anchor?}``.
* ``POST /v1/policy/check`` ``{customer_id, entitlement, amount?}`` — read-only, priced like allow (a preview).
  Answered on the event loop when the policy cache can (no I/O), otherwise in the threadpool.
* ``POST /v1/policy/allow`` ``{customer_id, entitlement, amount, idempotency_key?}`` (or an
  ``Idempotency-Key`` header) — consume; every answer carries ``price_diff``, ``overage_price`` and
  ``overhead_cost``. A negative amount is a refund.
* ``GET /v1/policy/customers/{id}/entitlements/{name}`` (used, limit, remaining, percent, period, the period's
  prices, spend caps) and ``.../remaining?percent=``, ``.../value?percent=true``, ``.../limit``.
* ``GET /v1/policy/customers/{id}/overage?from=&to=&currency=`` — soft-limit overage as invoice lines, priced with
  the recorded prices of the calls.

Request and answer shapes are the models of :mod:`.policy_schemas` (documented in ``/openapi.json``).
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any, Optional

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ...errors import NotFound, ValidationError
from ...events.validate import check_text
from ...policy.results import text as decimal_text
from ...credits.covering import LedgerCovering
from ...policy.service import PolicyService
from ...timeutil import from_us, parse_instant
from ..auth import Principal, customer_reader, own_customer, principal, writer
from ..deps import instant_param, json_body, read_body
from . import policy_schemas as S

router = APIRouter(prefix="/v1/policy", tags=["policy"])

_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")


_SERVICES_LOCK = threading.Lock()


def policy_service(app, environment: str) -> PolicyService:
    """The app's service for ``environment`` (one per environment, so handlers added to it stay)."""
    with _SERVICES_LOCK:
        services: dict[str, PolicyService] = getattr(app.state, "policy_services", None) or {}
        app.state.policy_services = services
        svc = services.get(environment)
        if svc is None:
            svc = services[environment] = PolicyService(app.state.store, environment=environment,
                                                        covering=LedgerCovering(app.state.settings.business_id))
        return svc


def _svc(request: Request, p: Principal) -> PolicyService:
    return policy_service(request.app, p.environment)


# ---------------------------------------------------------------------------------------------- bodies


def _document(raw: bytes, content_type: str) -> tuple[str, str]:
    """``(source, format)`` of a PUT /v1/policy body."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("policy document must be UTF-8 text", "body") from None
    ctype = content_type.split(";")[0].strip().lower()
    if ctype in _YAML_TYPES:
        return text, "yaml"
    if ctype == "application/json" or (not ctype and text.lstrip().startswith("{")):
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ValidationError(f"request body is not valid JSON: {exc}", "body") from None
        if isinstance(body, dict) and "source" in body:
            _only(body, {"source", "format"})
            fmt = body.get("format", "yaml")
            if fmt not in ("yaml", "json"):
                raise ValidationError("format must be 'yaml' or 'json'", "format")
            if not isinstance(body["source"], str) or not body["source"].strip():
                raise ValidationError("source must be the policy document text", "source")
            return body["source"], fmt
        return text, "json"
    if not ctype:
        return text, "yaml"
    raise ValidationError(f"unsupported content type {ctype!r}: send application/yaml or application/json", "content-type")


def _object(body: Any) -> dict:
    if not isinstance(body, dict):
        raise ValidationError("body must be a JSON object", "body")
    return body


def _only(body: dict, allowed: set[str]) -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise ValidationError(f"unknown field(s): {', '.join(extra)}", extra[0])


def _str(body: dict, key: str, required: bool = True) -> Optional[str]:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{key} is required and must be a non-empty string", key)
    return value


def _amount(body: dict, required: bool) -> Any:
    """An amount: integer, numeric string or unit string (``"90s"``); a JSON float by its shortest repr."""
    value = body.get("amount")
    if value is None:
        if required:
            raise ValidationError("amount is required (a number or a unit string such as '90s')", "amount")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValidationError("amount must be a number or a unit string such as '90s'", "amount")
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValidationError("amount must be finite", "amount")
        return Decimal(repr(value))
    return value


def _num(value: Optional[Decimal]) -> Optional[str]:
    return None if value is None else decimal_text(value)


def _json(content: dict) -> Response:
    """A JSON answer serialised by orjson (what FastAPI would send for ``content``, without its encoder pass)."""
    return Response(orjson.dumps(content), media_type="application/json")


# ---------------------------------------------------------------------------------------------- documents

_CUSTOMER = Path(description="The customer's id (as given to POST /v1/policy/customers).")
_ENTITLEMENT = Path(description="An entitlement of the customer's plan.")
_PUT_BODY = {"requestBody": {"required": True, "description": "The policy document: YAML text, or JSON (the document "
                             "itself, `{\"policy\": {...}}`, or `{\"format\", \"source\"}`).", "content": {
    "application/yaml": {"schema": {"type": "string", "description": "`policy: {credits: {...}, plans: {...}}`"}},
    "application/json": {"schema": {"anyOf": [S.PolicySourceIn.model_json_schema(),
                                              {"type": "object", "required": ["policy"], "properties": {"policy": {"type": "object"}}}]}},
}}}


@router.put("", summary="Replace the active policy document (YAML or JSON body)", response_model=S.PolicyVersionOut,
            openapi_extra=_PUT_BODY)
async def put_policy(request: Request, p: Principal = Depends(writer)):
    source, fmt = _document(await read_body(request, "a policy document (YAML or JSON)"), request.headers.get("content-type", ""))
    check_text(source, "body")  # no NUL: PostgreSQL cannot store it
    version = await run_in_threadpool(_svc(request, p).set_policy, source, fmt)
    return _json({**version.to_dict(), "created": version.created})


@router.get("", summary="The active policy document", response_model=S.PolicyVersionOut)
def get_policy(request: Request, p: Principal = Depends(principal)):
    return _json(_svc(request, p).get_policy().to_dict(include_source=True))


@router.get("/versions", summary="Stored policy versions, newest first", response_model=S.PolicyVersionsOut)
def list_versions(request: Request, limit: int = Query(100, ge=1, le=1000, description="At most this many versions."),
                  p: Principal = Depends(principal)):
    return _json({"data": _svc(request, p).policy_versions(limit)})


@router.get("/versions/{version}", summary="One stored policy version", response_model=S.PolicyVersionOut)
def get_version(request: Request, version: int = Path(ge=1, le=2**31 - 1, description="The version number (1, 2, ...)."),
                p: Principal = Depends(principal)):
    return _json(_svc(request, p).get_policy(version).to_dict(include_source=True))


# ---------------------------------------------------------------------------------------------- customers


@router.post("/customers", summary="Ensure a customer exists (an existing customer is returned unchanged)",
             response_model=S.PolicyCustomerOut, openapi_extra=S.body(S.EnsureCustomerIn, "The customer to ensure."))
async def ensure_customer(request: Request, p: Principal = Depends(writer)):
    body = _object(await json_body(request))
    _only(body, {"customer_id", "plan", "anchor"})
    anchor = body.get("anchor")
    if anchor is not None:
        if not isinstance(anchor, str):
            raise ValidationError("anchor must be an ISO-8601 instant", "anchor")
        try:
            anchor = parse_instant(anchor)
        except (ValueError, OverflowError):
            raise ValidationError(f"anchor must be an ISO-8601 instant, got {anchor!r}", "anchor") from None
    svc = _svc(request, p)
    customer = await run_in_threadpool(
        lambda: svc.ensure_customer(_str(body, "customer_id"), _str(body, "plan", required=False), anchor=anchor)
    )
    return _json(customer.to_dict())


@router.get("/customers/{customer_id}", summary="A customer's plan and period anchor", response_model=S.PolicyCustomerOut)
def get_customer(request: Request, customer_id: str = _CUSTOMER, p: Principal = Depends(customer_reader)):
    own_customer(p, customer_id)
    customer = _svc(request, p).get_customer(customer_id)
    if customer is None:
        raise NotFound(f"unknown customer {customer_id!r}", "customer_id")
    return _json(customer.to_dict())


@router.put("/customers/{customer_id}/plan", summary="Move a customer to a plan (created if missing)",
            response_model=S.PolicyCustomerOut, openapi_extra=S.body(S.SetPlanIn, "The new plan."))
async def set_plan(request: Request, customer_id: str = _CUSTOMER, p: Principal = Depends(writer)):
    body = _object(await json_body(request))
    _only(body, {"plan", "reset_anchor"})
    reset = body.get("reset_anchor", False)
    if not isinstance(reset, bool):
        raise ValidationError("reset_anchor must be true or false", "reset_anchor")
    svc = _svc(request, p)
    customer = await run_in_threadpool(lambda: svc.set_plan(customer_id, _str(body, "plan"), reset_anchor=reset))
    return _json(customer.to_dict())


# ---------------------------------------------------------------------------------------------- decisions


@router.post("/check", summary="Would allow() accept this amount, and what would it be worth? Read-only",
             response_model=S.DecisionOut, openapi_extra=S.body(S.CheckIn, "The call to preview."))
async def check(request: Request, p: Principal = Depends(principal)):
    body = _object(await json_body(request))
    _only(body, {"customer_id", "entitlement", "amount"})
    args = (_str(body, "customer_id"), _str(body, "entitlement"), _amount(body, required=False))
    svc = _svc(request, p)
    outcome = svc.check_cached(*args)
    if outcome is None:
        outcome = await run_in_threadpool(svc.check, *args)
    return _json(outcome.to_dict())


@router.post("/allow", summary="Decide, consume and price (hard limit or spend cap: refuse; soft: consume and report overage)",
             response_model=S.DecisionOut, openapi_extra=S.body(S.AllowIn, "The call to meter."))
async def allow(request: Request, p: Principal = Depends(writer),
                idempotency_key: Optional[str] = Header(None, description="A retry with the same key returns the first "
                                                                          "decision without consuming again.")):
    body = _object(await json_body(request))
    _only(body, {"customer_id", "entitlement", "amount", "idempotency_key"})
    key = body.get("idempotency_key", idempotency_key)
    if key is not None and body.get("idempotency_key") is not None and idempotency_key is not None and key != idempotency_key:
        raise ValidationError("idempotency_key in the body and the Idempotency-Key header differ", "idempotency_key")
    svc = _svc(request, p)
    outcome = await run_in_threadpool(
        lambda: svc.allow(_str(body, "customer_id"), _str(body, "entitlement"), _amount(body, required=True), idempotency_key=key)
    )
    return _json(outcome.to_dict())


@router.get("/customers/{customer_id}/entitlements/{entitlement}", summary="Usage, limit, remaining and prices this period",
            response_model=S.EntitlementStatusOut)
def entitlement_status(request: Request, customer_id: str = _CUSTOMER, entitlement: str = _ENTITLEMENT,
                       p: Principal = Depends(customer_reader)):
    own_customer(p, customer_id)
    return _json(_svc(request, p).status(customer_id, entitlement).to_dict())


_PERCENT = Query(False, description="As a percent of the limit.")


@router.get("/customers/{customer_id}/entitlements/{entitlement}/remaining", summary="max(0, limit - used)",
            response_model=S.RemainingOut)
def remaining(request: Request, customer_id: str = _CUSTOMER, entitlement: str = _ENTITLEMENT, percent: bool = _PERCENT,
              p: Principal = Depends(customer_reader)):
    own_customer(p, customer_id)
    value = _svc(request, p).remaining(customer_id, entitlement, percent)
    return _json({"customer_id": customer_id, "entitlement": entitlement, "percent": percent, "remaining": _num(value)})


@router.get("/customers/{customer_id}/entitlements/{entitlement}/value", summary="Usage this period (or percent of the limit)",
            response_model=S.ValueOut)
def value(request: Request, customer_id: str = _CUSTOMER, entitlement: str = _ENTITLEMENT, percent: bool = _PERCENT,
          p: Principal = Depends(customer_reader)):
    own_customer(p, customer_id)
    v = _svc(request, p).value(customer_id, entitlement, percent)
    return _json({"customer_id": customer_id, "entitlement": entitlement, "percent": percent, "value": _num(v)})


@router.get("/customers/{customer_id}/entitlements/{entitlement}/limit", summary="The limit in the credit's units",
            response_model=S.LimitOut)
def limit(request: Request, customer_id: str = _CUSTOMER, entitlement: str = _ENTITLEMENT,
          p: Principal = Depends(customer_reader)):
    own_customer(p, customer_id)
    v = _svc(request, p).limit(customer_id, entitlement)
    return _json({"customer_id": customer_id, "entitlement": entitlement, "limit": _num(v)})


@router.get("/customers/{customer_id}/overage", summary="Soft-limit overage as invoice lines, priced as the calls were",
            response_model=S.OverageLinesOut)
def overage(request: Request, customer_id: str = _CUSTOMER,
            from_: Optional[str] = Query(None, alias="from", description="Periods starting at or after this ISO-8601 "
                                                                         "instant (default: the epoch)."),
            to: Optional[str] = Query(None, description="Periods starting before this ISO-8601 instant (default: now)."),
            currency: str = Query("USD", min_length=3, max_length=3, description="ISO 4217 code the lines are rounded in."),
            p: Principal = Depends(customer_reader)):
    own_customer(p, customer_id)
    svc = _svc(request, p)
    start, end = instant_param(from_, "from") or 0, instant_param(to, "to")
    lines = svc.overage_lines(customer_id, from_us(start), from_us(end if end is not None else svc.now_us() + 1),
                              currency.upper())
    return _json({"currency": currency.upper(), "data": [line.to_dict() for line in lines]})
