"""Dodo-Payments-compatible routes (no ``/v1`` prefix), so the official ``dodopayments`` SDK
works with ``base_url`` pointed at meterbase.

Shapes follow the SDK's types: lists are ``{"items": [...]}`` with 0-based ``page_number`` and
``page_size`` (≤ 100); ingest answers ``{"ingested_count": n}``; archive is ``DELETE /meters/{id}``.
"""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ...errors import NotFound, ValidationError
from ..auth import Principal, principal, writer
from ..deps import MAX_PAGE, events_of, instant_param, json_body, store
from ..schemas import DodoEventPage, DodoIngestResult, DodoMeterPage, EventOut, MeterCreate, MeterOut, MeterUpdate, \
    answers, ingest_body_schema
from ..error_docs import INGEST_BACKLOG, METER_BOUNDS, with_errors
from ..serialize import event_json, meter_json

router = APIRouter(tags=["dodo-compatible"])
METER_ID = Path(description="A meter id (mtr_…).")
PAGE_NUMBER = Query(0, ge=0, le=MAX_PAGE, description="0-based page.")
PAGE_SIZE = Query(10, ge=1, le=100, description="Items per page.")


def _bid(request: Request) -> str:
    return request.app.state.settings.business_id


def _page(page_number: int, page_size: int) -> tuple[int, int]:
    return page_number * page_size, page_size


@router.post("/events/ingest", openapi_extra={"requestBody": ingest_body_schema()}, summary="Ingest ≤ 1000 events",
             **with_errors(answers(DodoIngestResult), INGEST_BACKLOG))
async def ingest(request: Request, p: Principal = Depends(writer)):
    body = await json_body(request)
    result = await run_in_threadpool(store(request).ingest, p.environment, events_of(body))
    return {"ingested_count": result.ingested}


@router.get("/events", summary="List events, newest first", **answers(DodoEventPage))
def list_events(
    request: Request,
    customer_id: Optional[str] = Query(None, description="One customer's events."),
    event_name: Optional[str] = Query(None, description="Exact event name (must match meter_id's when both)."),
    meter_id: Optional[str] = Query(None, description="Only events this meter counts."),
    start: Optional[str] = Query(None, description="ISO-8601 instant, inclusive."),
    end: Optional[str] = Query(None, description="ISO-8601 instant, exclusive."),
    page_number: int = PAGE_NUMBER,
    page_size: int = PAGE_SIZE,
    p: Principal = Depends(principal),
):
    s = store(request)
    predicate = None
    if meter_id:
        meter = s.get_meter(p.environment, meter_id)
        if event_name and event_name != meter.event_name:
            raise ValidationError("event_name does not match the meter's event_name", "event_name")
        event_name, predicate = meter.event_name, meter.predicate
    offset, limit = _page(page_number, page_size)
    rows = s.list_events(
        p.environment,
        customer_id=customer_id,
        event_name=event_name,
        start=instant_param(start, "start"),
        end=instant_param(end, "end"),
        limit=limit,
        offset=offset,
        predicate=predicate,
    )
    bid = _bid(request)
    return {"items": [event_json(r, bid) for r in rows]}


@router.get("/events/{event_id}", summary="Retrieve one event", **answers(EventOut))
def get_event(request: Request, event_id: str = Path(description="The client's event id."),
              p: Principal = Depends(principal)):
    ev = store(request).get_event(p.environment, event_id)
    if ev is None:
        raise NotFound(f"event {event_id!r} not found", "event_id")
    return event_json(ev, _bid(request))


@router.post("/meters", summary="Create a meter", **with_errors(answers(MeterOut), METER_BOUNDS))
def create_meter(request: Request, body: MeterCreate, p: Principal = Depends(writer)):
    return meter_json(store(request).create_meter(p.environment, body.model_dump(exclude_none=True)), _bid(request))


@router.get("/meters", summary="List meters", **answers(DodoMeterPage))
def list_meters(
    request: Request,
    archived: Optional[bool] = Query(False, description="true: archived only; false: active only"),
    page_number: int = PAGE_NUMBER,
    page_size: int = PAGE_SIZE,
    p: Principal = Depends(principal),
):
    offset, limit = _page(page_number, page_size)
    bid = _bid(request)
    return {"items": [meter_json(m, bid) for m in store(request).list_meters(p.environment, bool(archived), limit, offset)]}


@router.get("/meters/{meter_id}", summary="Retrieve a meter", **answers(MeterOut))
def get_meter(request: Request, meter_id: str = METER_ID, p: Principal = Depends(principal)):
    return meter_json(store(request).get_meter(p.environment, meter_id), _bid(request))


@router.patch("/meters/{meter_id}", summary="Rename or relabel a meter", **with_errors(answers(MeterOut), METER_BOUNDS))
def update_meter(request: Request, body: MeterUpdate, meter_id: str = METER_ID, p: Principal = Depends(writer)):
    return meter_json(store(request).update_meter(p.environment, meter_id, body.model_dump(exclude_unset=True)), _bid(request))


@router.delete("/meters/{meter_id}", status_code=204, summary="Archive a meter (no content)")
def archive_meter(request: Request, meter_id: str = METER_ID, p: Principal = Depends(writer)):
    store(request).set_archived(p.environment, meter_id, True)
    return Response(status_code=204)


@router.post("/meters/{meter_id}/unarchive", status_code=204, summary="Unarchive a meter (no content)")
def unarchive_meter(request: Request, meter_id: str = METER_ID, p: Principal = Depends(writer)):
    store(request).set_archived(p.environment, meter_id, False)
    return Response(status_code=204)
