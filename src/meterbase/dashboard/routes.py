"""The web dashboard under ``/ui``: server-rendered pages (Jinja2) plus small JSON endpoints for charts.

Auth: the login form takes an API key and checks it with the same store lookup as the API; the
session cookie then carries the key ids (see :mod:`.session`). Every page reads data of the
session's active mode only (``test_mode`` / ``live_mode``), exactly as that key would via the API.
"""

from __future__ import annotations

import base64
import math
import mimetypes
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse

from ..errors import NotFound, ValidationError
from ..eventstore.status import fold_status
from ..meters.aggregations import REGISTRY
from ..storage import dashboard_queries as q
from ..storage.keys_repo import ENVIRONMENTS
from ..timeutil import iso_us
from ..usage_limits import bounded_usage
from . import billing_pages, customers
from .pages import HERE, MODE_LABELS, not_found, read_form, render
from .session import UiSession, api_session, clear_session, page_session, read_session, same_origin, set_session
from .views import (
    DAY_US,
    HOUR_US,
    chart_payload,
    classify_event,
    day_floor,
    local_input,
    parse_when,
    rejection_reason,
    resolve_range,
)

STATIC = (HERE / "static").resolve()
router = APIRouter(include_in_schema=False)


def usage_json(u) -> dict:  # the /v1 usage document (imported lazily: meterbase.api imports this module)
    from ..api.serialize import usage_json as f

    return f(u)


def event_json(ev: dict, business_id: str) -> dict:
    from ..api.serialize import event_json as f

    return f(ev, business_id)


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/ui") and not value.startswith("//") and "\\" not in value:
        return value
    return "/ui"


# -- static files, root ---------------------------------------------------------------------------
@router.get("/")
def root():
    return RedirectResponse("/ui", status_code=307)


@router.get("/ui/static/{path:path}")
def static(path: str):
    target = (STATIC / path).resolve()
    if not target.is_file() or STATIC not in target.parents:
        raise NotFound(f"no static file {path!r}", "path")
    media = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return FileResponse(target, media_type=media, headers={"Cache-Control": "public, max-age=3600"})


# -- login, logout, mode switch -------------------------------------------------------------------
@router.get("/ui/login")
def login_page(request: Request, next: str | None = None, mode: str | None = None):
    s = read_session(request)
    return render(request, "login.html", s, next=_safe_next(next), want_mode=mode if mode in ENVIRONMENTS else None,
                  error=None, active="login")


@router.post("/ui/login")
async def login(request: Request):
    form = await read_form(request)
    nxt = _safe_next(form.get("next"))
    token = form.get("api_key", "").strip()
    # failed logins are charged to the client's address in the API's failed-authentication limiter
    # (api/ratelimit.py, MB_AUTH_FAILURE_BURST / _RPS): once its bucket is empty, 429 before any lookup
    failures = getattr(request.app.state, "auth_failures", None)
    address = request.client.host if request.client else "unknown"
    wait = failures.acquire(address, take=False) if failures is not None and token else None
    if wait is not None:
        retry = max(1, math.ceil(wait))
        resp = render(request, "login.html", read_session(request), 429, next=nxt, want_mode=None, active="login",
                      error=f"Too many failed logins from your address; try again in {retry} s.")
        resp.headers["Retry-After"] = str(retry)
        return resp
    key = request.app.state.store.find_key(token) if token else None  # the same lookup as api/auth.py
    if key is None and token and failures is not None:
        failures.acquire(address)
    if not same_origin(request) or key is None:
        error = "That API key is not valid (or was revoked)." if token else "Paste an API key to log in."
        if not same_origin(request):  # e.g. a proxy that rewrites Host: it must keep the public Host header
            error = "Refused: this login was posted from another origin than the dashboard's own address."
        return render(request, "login.html", read_session(request), 401, next=nxt, want_mode=None, error=error,
                      active="login")
    current = read_session(request)
    keys = {env: k.id for env, k in current.keys.items()} if current else {}
    keys[key.environment] = key.id
    resp = RedirectResponse(nxt, status_code=303)
    set_session(resp, request, keys, key.environment)
    return resp


@router.post("/ui/logout")
def logout(request: Request):
    resp = RedirectResponse("/ui/login", status_code=303)
    if same_origin(request):
        clear_session(resp, request)  # revokes the session server-side
    return resp


@router.post("/ui/mode")
async def switch_mode(request: Request):
    form = await read_form(request)
    mode = form.get("mode", "")
    back = _safe_next(form.get("next"))
    s = read_session(request)
    if s is None:
        return RedirectResponse(f"/ui/login?next={quote(back, safe='')}", status_code=303)
    if mode not in ENVIRONMENTS or not same_origin(request):
        return RedirectResponse(back, status_code=303)
    if mode not in s.keys:  # this session has no key of that mode yet: log in with one
        return RedirectResponse(f"/ui/login?mode={mode}&next={quote(back, safe='')}", status_code=303)
    resp = RedirectResponse(back, status_code=303)
    set_session(resp, request, {env: k.id for env, k in s.keys.items()}, mode)
    return resp


# -- overview -------------------------------------------------------------------------------------
def _fill(points: list[tuple[int, int]], start: int, step: int, count: int) -> dict:
    have = dict(points)
    labels = [start + i * step for i in range(count)]
    return {"labels": [iso_us(b) for b in labels], "series": [{"label": "Events", "values": [have.get(b, 0) for b in labels]}]}


@router.get("/ui")
def overview(request: Request, s: UiSession = Depends(page_session)):
    store, env = request.app.state.store, s.environment
    now = store.now()
    today = day_floor(now)
    since30 = today - 29 * DAY_US
    hour0 = now - now % HOUR_US - 47 * HOUR_US
    with store.read() as conn:
        total = q.count_events(conn, env)
        last5 = q.count_events(conn, env, now - 300_000_000, now + 1)
        today_n = q.count_events(conn, env, today, None)
        n30 = q.count_events(conn, env, since30, None)
        customers30 = q.count_customers(conn, env, since30, None)
        daily = _fill(q.event_volume(conn, env, since30, today + DAY_US, DAY_US), since30, DAY_US, 30)
        hourly = _fill(q.event_volume(conn, env, hour0, hour0 + 48 * HOUR_US, HOUR_US), hour0, HOUR_US, 48)
        top_customers = q.top_customers(conn, env, since30, None, 8)
        stats = q.meter_stats(conn, env, since30)
    meters = store.list_meters(env, False, 1000)
    top_meters = sorted(((m, stats.get(m.id)) for m in meters), key=lambda ms: -(ms[1].events if ms[1] else 0))[:8]
    return render(
        request, "overview.html", s, active="overview", total=total, rate=last5 / 300, last5=last5, today_n=today_n,
        n30=n30, customers30=customers30, volume={"daily": daily, "hourly": hourly}, top_customers=top_customers,
        top_meters=top_meters, meter_count=len(meters), **billing_pages.overview_money(request, env),
    )


# -- meters ---------------------------------------------------------------------------------------
@router.get("/ui/meters")
def meters_page(request: Request, archived: bool = False, s: UiSession = Depends(page_session)):
    store, env = request.app.state.store, s.environment
    now = store.now()
    meters = store.list_meters(env, archived, 1000)
    with store.read() as conn:
        stats = q.meter_stats(conn, env, day_floor(now) - 29 * DAY_US)
    return render(request, "meters.html", s, active="meters", meters=meters, stats=stats, archived=archived,
                  aggregations=list(REGISTRY.values()))


def _usage_params(request: Request) -> dict:
    p = request.query_params
    window = p.get("window") or "day"
    return {
        "window": window,
        "range": p.get("range") or None,
        "from": p.get("from") or None,
        "to": p.get("to") or None,
        "customer_id": (p.get("customer_id") or "").strip() or None,
        "group_by": (p.get("group_by") or "").strip() or None,
        "tz": (p.get("tz") or "UTC").strip() or "UTC",
    }


def _meter_usage(request: Request, env: str, meter_id: str, params: dict) -> dict:
    """The usage document of the meter page, bounded like the API's (``usage_limits``: 422 past MB_MAX_USAGE_CELLS)."""
    store = request.app.state.store
    frm, to, range_key = resolve_range(store.now(), params["window"], params["range"], params["from"], params["to"])
    keys = [k.strip() for k in params["group_by"].split(",") if k.strip()] if params["group_by"] else None
    u = bounded_usage(store, env, meter_id, frm, to, params["window"], params["tz"], params["customer_id"], keys,
                      request.app.state.settings.max_usage_cells)
    out = usage_json(u)
    out["range"] = range_key
    out["group_by"] = keys or []
    out["chart"] = chart_payload(u)
    return out


@router.get("/ui/meters/{meter_id}")
def meter_page(request: Request, meter_id: str, s: UiSession = Depends(page_session)):
    store, env = request.app.state.store, s.environment
    try:
        meter = store.get_meter(env, meter_id)
    except NotFound:
        return not_found(request, s, "Meter not found",
                         f"There is no meter {meter_id!r} in {MODE_LABELS[env].lower()}.", "meters")
    params = _usage_params(request)
    error = None
    try:
        usage = _meter_usage(request, env, meter.id, params)
    except ValidationError as exc:
        error = exc.message
        params.update(window="day", range=None, **{"from": None, "to": None})
        try:
            usage = _meter_usage(request, env, meter.id, params)
        except ValidationError as exc2:  # e.g. an unknown time zone or too many group keys
            error = exc2.message
            params.update(tz="UTC", group_by=None)
            usage = _meter_usage(request, env, meter.id, params)
    now = store.now()
    with store.read() as conn:
        customers = q.meter_customers(conn, meter.id, meter=meter)
        stats = q.meter_stats(conn, env, day_floor(now) - 29 * DAY_US).get(meter.id)
    return render(request, "meter.html", s, active="meters", meter=meter, usage=usage, params=params, error=error,
                  customers=customers, stats=stats)


@router.get("/ui/api/meters/{meter_id}/usage")
def meter_usage_api(request: Request, meter_id: str, s: UiSession = Depends(api_session)):
    """Chart data for the meter page: the ``/v1/meters/{id}/usage`` document plus merged series."""
    return _meter_usage(request, s.environment, meter_id, _usage_params(request))


# -- events explorer ------------------------------------------------------------------------------
def _cursor_encode(ts: int, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{ts}:{seq}".encode()).decode()


def _cursor_decode(cursor: str) -> tuple[int, int] | None:
    try:
        ts, seq = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        return int(ts), int(seq)
    except Exception:  # noqa: BLE001 - a malformed cursor just restarts from the newest
        return None


@router.get("/ui/events")
def events_page(request: Request, s: UiSession = Depends(page_session)):
    store, env = request.app.state.store, s.environment
    p = request.query_params
    f = {k: (p.get(k) or "").strip() for k in ("customer_id", "event_name", "meter_id", "from", "to", "event_id", "rejected")}
    per_page = 50
    error, rows, more, meter = None, [], False, None
    all_meters = store.list_meters(env, None, 1000)
    try:
        start, end = parse_when(f["from"], "from"), parse_when(f["to"], "to")
        if f["meter_id"]:
            meter = store.get_meter(env, f["meter_id"])
        if f["event_id"]:
            ev = store.get_event(env, f["event_id"])
            rows = [ev] if ev else []
        else:
            predicate = None
            name = f["event_name"] or None
            if meter is not None:
                name = meter.event_name
                predicate = (lambda md, m=meter: rejection_reason(m, md) is not None) if f["rejected"] else meter.predicate
            cursor = _cursor_decode(p.get("cursor", "")) if p.get("cursor") else None
            rows = store.list_events(env, customer_id=f["customer_id"] or None, event_name=name, start=start, end=end,
                                     after=cursor, limit=per_page + 1, predicate=predicate)
            more = len(rows) > per_page
            rows = rows[:per_page]
    except (ValidationError, NotFound) as exc:
        error = exc.message
    bid = request.app.state.settings.business_id
    items = []
    for r in rows:
        counted, rejected = classify_event(all_meters, r["event_name"], r["metadata"])
        items.append({"ev": r, "json": event_json(r, bid), "counted": counted, "rejected": rejected})
    next_url = None
    if more and rows:
        args = {k: v for k, v in f.items() if v}
        args["cursor"] = _cursor_encode(rows[-1]["ts"], rows[-1]["seq"])
        next_url = "/ui/events?" + urlencode(args)
    now = store.now()
    with store.read() as conn:
        names = q.event_names(conn, env)
        stats = q.meter_stats(conn, env, day_floor(now) - 29 * DAY_US)
        total = q.count_events(conn, env)
    rejections = [(m, stats[m.id].rejected) for m in all_meters if m.id in stats and stats[m.id].rejected]
    return render(
        request, "events.html", s, active="events", f=f, items=items, next_url=next_url, error=error, names=names,
        meters=all_meters, meter=meter, rejections=rejections, total=total, fold=fold_status(store, env),
        from_value=local_input(parse_when(f["from"], "from")) if f["from"] and not error else f["from"],
        to_value=local_input(parse_when(f["to"], "to")) if f["to"] and not error else f["to"],
        first_page=not p.get("cursor"), newest_url="/ui/events?" + urlencode({k: v for k, v in f.items() if v}),
    )


router.include_router(customers.router)
router.include_router(billing_pages.router)
