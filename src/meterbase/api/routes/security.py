"""Security API under ``/v1``: customer-scoped portal tokens, the audit log, and ``/v1/me``.

* ``POST /v1/portal-tokens`` ``{customer_id, name?, expires_at?}`` — a read-only ``mb_portal_…`` token for
  one customer's usage, entitlements and invoices; the token is in this answer only (its SHA-256 is kept).
* ``GET /v1/portal-tokens[?customer_id=]``, ``POST /v1/portal-tokens/{id}/revoke``.
* ``GET /v1/audit`` — key and configuration changes of the key's environment, newest first.
* ``GET /v1/me`` — what the bearer token is (API key or portal token, environment, customer).
"""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from ...errors import ValidationError
from ...storage import audit, keys_repo
from ...timeutil import iso_us
from .. import security_schemas as m
from ..auth import Principal, customer_reader, principal, writer
from ..deps import instant_param, json_body, store
from ..schemas import answers, body_doc

router = APIRouter(prefix="/v1", tags=["security"])


def _token_json(t: keys_repo.PortalToken) -> dict:
    return {
        "object": "portal_token", "id": t.id, "environment": t.environment, "customer_id": t.customer_id,
        "name": t.name, "prefix": t.prefix, "created_at": iso_us(t.created_at),
        "expires_at": iso_us(t.expires_at) if t.expires_at is not None else None,
        "revoked_at": iso_us(t.revoked_at) if t.revoked_at is not None else None,
    }


@router.post("/portal-tokens", status_code=201, openapi_extra=body_doc(m.PortalTokenCreate),
             summary="Create a read-only portal token for one customer (the token is shown once)",
             **answers(m.PortalTokenCreated, 201, "The token (shown once) and its record"))
async def create_portal_token(request: Request, p: Principal = Depends(writer)):
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ValidationError("body must be a JSON object", "body")
    extra = sorted(set(body) - {"customer_id", "name", "expires_at"})
    if extra:
        raise ValidationError(f"unknown field(s): {', '.join(extra)}", extra[0])
    expires = body.get("expires_at")
    if expires is not None and not isinstance(expires, str):
        raise ValidationError("expires_at must be an ISO-8601 instant", "expires_at")
    s = store(request)

    def create():
        with s.write() as conn:
            return keys_repo.create_portal_token(conn, p.environment, body.get("customer_id"), s.now(),
                                                 body.get("name", "portal"), instant_param(expires, "expires_at"))

    token, tok = await run_in_threadpool(create)
    return {**_token_json(tok), "token": token}


@router.get("/portal-tokens", summary="List portal tokens (prefixes only)", **answers(m.PortalTokenPage))
def list_portal_tokens(request: Request, customer_id: Optional[str] = Query(None, description="One customer's tokens."),
                       p: Principal = Depends(principal)):
    with store(request).read() as conn:
        found = keys_repo.list_portal_tokens(conn, p.environment, customer_id)
    return {"data": [_token_json(t) for t in found]}


@router.post("/portal-tokens/{token_id}/revoke", summary="Revoke a portal token (refused within 5 seconds)",
             **answers(m.Revoked))
def revoke_portal_token(request: Request, token_id: str = Path(description="A portal token id (ptk_…)."),
                        p: Principal = Depends(writer)):
    s = store(request)
    with s.write() as conn:
        keys_repo.revoke_portal_token(conn, token_id, s.now(), environment=p.environment)
    return {"id": token_id, "revoked": True}


@router.get("/audit", summary="Audit log of key and configuration changes, newest first", **answers(m.AuditPage))
def list_audit(
    request: Request,
    action: Optional[str] = Query(None, description="e.g. api_key.created, meter.archived, policy.replaced"),
    target: Optional[str] = Query(None, description="Id of the changed object."),
    actor: Optional[str] = Query(None, description="key_… (API key id), cli:<user> or system."),
    limit: int = Query(100, ge=1, le=1000, description="Page size."),
    before: Optional[int] = Query(None, ge=0, le=2**62, description="Cursor: next_before of the previous page."),
    p: Principal = Depends(principal),
):
    with store(request).read() as conn:
        rows = audit.list_entries(conn, p.environment, limit=limit + 1, before_seq=before, action=action,
                                  target=target, actor=actor)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "data": [{**r, "object": "audit_entry", "at": iso_us(r["at"])} for r in rows],
        "next_before": rows[-1]["seq"] if more else None,
    }


@router.get("/me", summary="The bearer token: API key or portal token, its environment and customer", **answers(m.Me))
def me(p: Principal = Depends(customer_reader)):
    return {
        "object": "portal_token" if p.is_portal else "api_key", "id": p.key.id, "name": p.key.name,
        "environment": p.environment, "read_only": p.key.read_only, "customer_id": p.customer_id,
    }
