"""Native API under ``/v1``: events, meters and usage queries."""

from __future__ import annotations

import base64
from typing import Optional

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from ...errors import NotFound, ValidationError
from ...eventstore.status import fold_status as folder_lag
from ...timeutil import from_us, now_us, to_us
from ..auth import Principal, customer_reader, own_customer, principal, writer
from ...usage_limits import bounded_usage
from ..deps import MAX_OFFSET, events_of, instant_param, json_body, store
from ..schemas import EventOut, EventPage, FoldStatus, IngestResult, MeterCreate, MeterOut, MeterPage, MeterUpdate, UsageOut, \
    answers, ingest_body_schema
from ..error_docs import INGEST_BACKLOG, METER_BOUNDS, USAGE_BOUNDS, with_errors
from ..serialize import event_json, meter_json, usage_json

router = APIRouter(prefix="/v1", tags=["native"])
METER_ID = Path(description="A meter id (mtr_…).")


def _bid(request: Request) -> str:
    return request.app.state.settings.business_id


@router.post("/events/ingest", openapi_extra={"requestBody": ingest_body_schema()}, summary="Ingest a batch of ≤ 1000 events",
             **with_errors(answers(IngestResult), INGEST_BACKLOG))
async def ingest(request: Request, p: Principal = Depends(writer)):
    """Idempotent on ``event_id``: replays are counted as duplicates (same content) or conflicts
    (different content) and never stored twice. The reply is sent only after the batch commits."""
    body = await json_body(request)
    result = await run_in_threadpool(store(request).ingest, p.environment, events_of(body))
    return result.to_dict()


def _cursor_encode(ts: int, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{ts}:{seq}".encode()).decode()


def _cursor_decode(cursor: str) -> tuple[int, int]:
    try:
        ts, seq = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        ts, seq = int(ts), int(seq)
    except Exception:  # noqa: BLE001 - any malformed cursor is the client's error
        raise ValidationError("malformed cursor", "cursor") from None
    if not (-2**63 <= ts < 2**63 and 0 <= seq < 2**63):  # forged: out of every backend's BIGINT range
        raise ValidationError("malformed cursor", "cursor")
    return ts, seq


@router.get("/events", summary="List events, newest first (cursor pagination)", **answers(EventPage))
def list_events(
    request: Request,
    customer_id: Optional[str] = Query(None, description="One customer's events."),
    event_name: Optional[str] = Query(None, description="Exact event name."),
    meter_id: Optional[str] = Query(None, description="Only events this meter counts (its name and filter)."),
    from_: Optional[str] = Query(None, alias="from", description="ISO-8601 instant, inclusive."),
    to: Optional[str] = Query(None, description="ISO-8601 instant, exclusive."),
    limit: int = Query(100, ge=1, le=1000, description="Page size."),
    cursor: Optional[str] = Query(None, description="next_cursor of the previous page."),
    p: Principal = Depends(principal),
):
    s = store(request)
    predicate = None
    if meter_id:
        meter = s.get_meter(p.environment, meter_id)
        event_name, predicate = meter.event_name, meter.predicate
    rows = s.list_events(
        p.environment,
        customer_id=customer_id,
        event_name=event_name,
        start=instant_param(from_, "from"),
        end=instant_param(to, "to"),
        after=_cursor_decode(cursor) if cursor else None,
        limit=limit + 1,
        predicate=predicate,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    bid = _bid(request)
    return {
        "data": [event_json(r, bid) for r in rows],
        "next_cursor": _cursor_encode(rows[-1]["ts"], rows[-1]["seq"]) if more else None,
    }


@router.get("/event-store/watermark", summary="The fold watermark: how far events are folded into rollups",
            **answers(FoldStatus))
def fold_status(request: Request, p: Principal = Depends(principal)):
    """Usage answers include every acknowledged event whether or not it is folded; this shows the folder's lag
    (the events waiting for it) and the ingest backlog bound this server enforces."""
    return folder_lag(store(request), p.environment)


@router.get("/events/{event_id}", summary="Retrieve one event", **answers(EventOut))
def get_event(request: Request, event_id: str = Path(description="The client's event id."),
              p: Principal = Depends(principal)):
    ev = store(request).get_event(p.environment, event_id)
    if ev is None:
        raise NotFound(f"event {event_id!r} not found", "event_id")
    return event_json(ev, _bid(request))


@router.post("/meters", status_code=201, summary="Create a meter (backfilled from stored events)",
             **with_errors(answers(MeterOut, 201, "The meter"), METER_BOUNDS))
def create_meter(request: Request, body: MeterCreate, p: Principal = Depends(writer)):
    meter = store(request).create_meter(p.environment, body.model_dump(exclude_none=True))
    return meter_json(meter, _bid(request))


@router.get("/meters", summary="List meters", **answers(MeterPage))
def list_meters(
    request: Request,
    archived: Optional[bool] = Query(False, description="true: archived only; false: active only"),
    limit: int = Query(100, ge=1, le=1000, description="Page size."),
    offset: int = Query(0, ge=0, le=MAX_OFFSET, description="Items to skip."),
    p: Principal = Depends(principal),
):
    bid = _bid(request)
    return {"data": [meter_json(m, bid) for m in store(request).list_meters(p.environment, archived, limit, offset)]}


@router.get("/meters/{meter_id}", summary="Retrieve a meter", **answers(MeterOut))
def get_meter(request: Request, meter_id: str = METER_ID, p: Principal = Depends(principal)):
    return meter_json(store(request).get_meter(p.environment, meter_id), _bid(request))


@router.patch("/meters/{meter_id}", summary="Rename or relabel a meter (its definition is immutable)",
              **with_errors(answers(MeterOut), METER_BOUNDS))
def update_meter(request: Request, body: MeterUpdate, meter_id: str = METER_ID, p: Principal = Depends(writer)):
    changes = body.model_dump(exclude_unset=True)
    return meter_json(store(request).update_meter(p.environment, meter_id, changes), _bid(request))


@router.post("/meters/{meter_id}/archive", summary="Archive a meter (usage keeps accruing)", **answers(MeterOut))
def archive_meter(request: Request, meter_id: str = METER_ID, p: Principal = Depends(writer)):
    return meter_json(store(request).set_archived(p.environment, meter_id, True), _bid(request))


@router.post("/meters/{meter_id}/unarchive", summary="Unarchive a meter", **answers(MeterOut))
def unarchive_meter(request: Request, meter_id: str = METER_ID, p: Principal = Depends(writer)):
    return meter_json(store(request).set_archived(p.environment, meter_id, False), _bid(request))


def month_start_us(now: int) -> int:
    dt = from_us(now)
    return to_us(dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0))


@router.get("/meters/{meter_id}/usage", summary="Meter value per customer and window over [from, to)",
            **with_errors(answers(UsageOut), USAGE_BOUNDS))
def meter_usage(
    request: Request,
    meter_id: str = METER_ID,
    customer_id: Optional[str] = Query(None, description="One customer; omit for every customer, one row each."),
    from_: Optional[str] = Query(None, alias="from", description="Start (inclusive); default: start of this UTC month."),
    to: Optional[str] = Query(None, description="End (exclusive); default: now."),
    window: str = Query("day", description="minute | hour | day | month"),
    tz: str = Query("UTC", description="IANA time zone the windows align to."),
    group_by: Optional[str] = Query(None, description="Comma-separated metadata keys to group by (at most 5)."),
    sparse: bool = Query(False, description="true: omit the windows in which no event counted (each row keeps its "
                                            "total); keeps the answer small when usage is bursty."),
    p: Principal = Depends(customer_reader),
):
    """Portal tokens read their own customer only (``customer_id`` defaults to it; another is 403).

    The answer holds rows × windows cells (a row per customer, or per (customer, group) with ``group_by``);
    a query above ``MB_MAX_USAGE_CELLS`` (default 100,000) is refused with ``422 usage_too_large`` naming
    the bound and the cells it would have returned, before it runs."""
    customer_id = own_customer(p, customer_id)
    s = store(request)
    now = now_us(s.clock)
    start = instant_param(from_, "from")
    end = instant_param(to, "to")
    end = now + 1 if end is None else end
    start = month_start_us(now) if start is None else start
    keys = [k.strip() for k in group_by.split(",") if k.strip()] if group_by else None
    limit = request.app.state.settings.max_usage_cells
    return usage_json(bounded_usage(s, p.environment, meter_id, start, end, window, tz, customer_id, keys, limit),
                      sparse)
