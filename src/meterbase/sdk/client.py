"""``Meterbase`` / ``AsyncMeterbase``: HTTP clients for the native ``/v1`` API (httpx).

Ingest calls are safe to retry (the server is idempotent on ``event_id``), so transport errors
(timeouts included) and 5xx/429 answers are retried with exponential backoff and jitter; other
4xx answers are not. For fire-and-forget, batched ingestion see :mod:`meterbase.sdk.ingestion`.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from datetime import datetime
from typing import Any, Iterable
from urllib.parse import quote

import asyncio
import httpx
import orjson

RETRY_STATUSES = {429, 500, 502, 503, 504}


class MeterbaseAPIError(Exception):
    def __init__(self, status: int, body: dict | str):
        self.status = status
        self.body = body
        msg = body.get("message") if isinstance(body, dict) else body
        self.field = body.get("field") if isinstance(body, dict) else None
        super().__init__(f"{status}: {msg}")


def new_event_id(event_name: str) -> str:
    """``<event_name>_<epoch ms>_<random>``: the shape Dodo's blueprints use, with 48 random bits."""
    return f"{event_name}_{int(time.time() * 1000)}_{uuid.uuid4().hex[:12]}"


def backoff_delay(attempt: int, base: float = 0.25, cap: float = 8.0, rand=random.random) -> float:
    """Exponential backoff with jitter: ``min(cap, base·2^attempt)`` scaled by a factor in [0.5, 1)."""
    return min(cap, base * 2**attempt) * (0.5 + rand() / 2)


def _api_error(r: httpx.Response) -> MeterbaseAPIError:
    try:
        body = r.json()
    except ValueError:
        body = r.text
    return MeterbaseAPIError(r.status_code, body)


def _connection(api_key: str | None, base_url: str | None) -> tuple[str, dict]:
    """Base URL and headers from the arguments or ``$MB_API_KEY`` / ``$MB_URL``."""
    api_key = api_key or os.environ.get("MB_API_KEY")
    if not api_key:
        raise ValueError("an API key is required (argument or $MB_API_KEY)")
    url = (base_url or os.environ.get("MB_URL") or "http://127.0.0.1:8080").rstrip("/")
    return url, {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


class Meterbase:
    def __init__(self, api_key: str | None = None, base_url: str | None = None, timeout: float = 30.0,
                 max_retries: int = 3, transport: httpx.BaseTransport | None = None):
        self.base_url, headers = _connection(api_key, base_url)
        self.max_retries = max_retries
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport, headers=headers)

    # -- transport ----------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, json: Any = None, params: dict | None = None) -> Any:
        content = orjson.dumps(json, default=_jsonable) if json is not None else None
        for attempt in range(self.max_retries + 1):
            try:
                r = self._http.request(method, path, content=content, params=params)
            except httpx.TransportError:
                if attempt >= self.max_retries:
                    raise
            else:
                if r.status_code < 400:
                    return r.json() if r.content else None
                if r.status_code not in RETRY_STATUSES or attempt >= self.max_retries:
                    raise _api_error(r)
            time.sleep(backoff_delay(attempt))
        raise RuntimeError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Meterbase":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- events -------------------------------------------------------------------------------
    def ingest(self, events: Iterable[dict]) -> dict:
        """Send ≤ 1000 events; missing ``event_id``s are generated. Returns counts and replays."""
        batch = [e if "event_id" in e else {**e, "event_id": new_event_id(e["event_name"])} for e in events]
        return self._request("POST", "/v1/events/ingest", json={"events": batch})

    def track(self, customer_id: str, event_name: str, metadata: dict | None = None, *,
              event_id: str | None = None, timestamp: datetime | None = None) -> dict:
        event = {"event_id": event_id or new_event_id(event_name), "customer_id": customer_id,
                 "event_name": event_name, "metadata": metadata or {}}
        if timestamp is not None:
            event["timestamp"] = timestamp
        return self.ingest([event])

    def events(self, **params: Any) -> list[dict]:
        return self._request("GET", "/v1/events", params=_params(params))["data"]

    # -- meters -------------------------------------------------------------------------------
    def create_meter(self, name: str, event_name: str, aggregation: str = "count", key: str | None = None,
                     measurement_unit: str = "units", filter: dict | None = None, description: str | None = None,
                     aggregation_params: dict | None = None) -> dict:
        """``aggregation_params``: extra aggregation fields, e.g. ``{"mode": "gauge", "per": "hour"}``."""
        body = {"name": name, "event_name": event_name,
                "aggregation": {"type": aggregation, "key": key, **(aggregation_params or {})},
                "measurement_unit": measurement_unit, "filter": filter, "description": description}
        return self._request("POST", "/v1/meters", json={k: v for k, v in body.items() if v is not None})

    def meters(self, archived: bool = False, limit: int | None = None) -> list[dict]:
        params = {"archived": str(archived).lower(), "limit": limit}
        return self._request("GET", "/v1/meters", params=_params(params))["data"]

    def usage(self, meter_id: str, *, customer_id: str | None = None, start: datetime | str | None = None,
              end: datetime | str | None = None, window: str = "day", tz: str = "UTC",
              group_by: list[str] | None = None, sparse: bool = False) -> dict:
        params = {"customer_id": customer_id, "from": start, "to": end, "window": window, "tz": tz,
                  "group_by": ",".join(group_by) if group_by else None, "sparse": "true" if sparse else None}
        return self._request("GET", f"/v1/meters/{meter_id}/usage", params=_params(params))

    # -- live sessions ------------------------------------------------------------------------
    def start_session(self, customer_id: str, session_id: str | None = None, *, entitlement: str = "gpu_compute",
                      access_entitlement: str | None = "gpu_access", plan: str | None = None,
                      description: str | None = None, allow_overage: bool = False) -> dict:
        """Pre-start check, then start. Refusals come back as ``{"ok": False, "code": "NO_ACCESS" | "QUOTA_EXHAUSTED"}``.

        The session id is generated here when omitted, so a retried request starts the same session once.
        """
        return self._request("POST", "/v1/sessions", json=_session_body(
            customer_id, session_id, entitlement, access_entitlement, plan, description, allow_overage))

    def heartbeat(self, session_id: str) -> dict:
        """Keep a session alive; raises ``MeterbaseAPIError`` (409 ``session_not_running``) once it was stopped or reaped."""
        return self._request("POST", f"/v1/sessions/{_seg(session_id)}/heartbeat")

    def stop_session(self, session_id: str) -> dict:
        """Stop and meter the session (exactly once; a repeat returns the same result with ``replayed``)."""
        return self._request("POST", f"/v1/sessions/{_seg(session_id)}/stop")

    def get_session(self, session_id: str) -> dict:
        return self._request("GET", f"/v1/sessions/{_seg(session_id)}")

    def session_display(self, customer_id: str, entitlement: str = "gpu_compute") -> dict:
        """Used / limit / remaining / percent and the running session (the seed's ``getComputeDisplay``)."""
        return self._request("GET", f"/v1/customers/{_seg(customer_id)}/sessions/display",
                             params={"entitlement": entitlement})


class AsyncMeterbase:
    """The asyncio twin of :class:`Meterbase` (same methods, awaitable)."""

    def __init__(self, api_key: str | None = None, base_url: str | None = None, timeout: float = 30.0,
                 max_retries: int = 3, transport: httpx.AsyncBaseTransport | None = None):
        self.base_url, headers = _connection(api_key, base_url)
        self.max_retries = max_retries
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport, headers=headers)

    async def _request(self, method: str, path: str, *, json: Any = None, params: dict | None = None) -> Any:
        content = orjson.dumps(json, default=_jsonable) if json is not None else None
        for attempt in range(self.max_retries + 1):
            try:
                r = await self._http.request(method, path, content=content, params=params)
            except httpx.TransportError:
                if attempt >= self.max_retries:
                    raise
            else:
                if r.status_code < 400:
                    return r.json() if r.content else None
                if r.status_code not in RETRY_STATUSES or attempt >= self.max_retries:
                    raise _api_error(r)
            await asyncio.sleep(backoff_delay(attempt))
        raise RuntimeError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncMeterbase":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def ingest(self, events: Iterable[dict]) -> dict:
        batch = [e if "event_id" in e else {**e, "event_id": new_event_id(e["event_name"])} for e in events]
        return await self._request("POST", "/v1/events/ingest", json={"events": batch})

    async def track(self, customer_id: str, event_name: str, metadata: dict | None = None, *,
                    event_id: str | None = None, timestamp: datetime | None = None) -> dict:
        event = {"event_id": event_id or new_event_id(event_name), "customer_id": customer_id,
                 "event_name": event_name, "metadata": metadata or {}}
        if timestamp is not None:
            event["timestamp"] = timestamp
        return await self.ingest([event])

    async def events(self, **params: Any) -> list[dict]:
        return (await self._request("GET", "/v1/events", params=_params(params)))["data"]

    async def create_meter(self, name: str, event_name: str, aggregation: str = "count", key: str | None = None,
                           measurement_unit: str = "units", filter: dict | None = None,
                           description: str | None = None, aggregation_params: dict | None = None) -> dict:
        body = {"name": name, "event_name": event_name,
                "aggregation": {"type": aggregation, "key": key, **(aggregation_params or {})},
                "measurement_unit": measurement_unit, "filter": filter, "description": description}
        return await self._request("POST", "/v1/meters", json={k: v for k, v in body.items() if v is not None})

    async def meters(self, archived: bool = False, limit: int | None = None) -> list[dict]:
        params = {"archived": str(archived).lower(), "limit": limit}
        return (await self._request("GET", "/v1/meters", params=_params(params)))["data"]

    async def usage(self, meter_id: str, *, customer_id: str | None = None, start: datetime | str | None = None,
                    end: datetime | str | None = None, window: str = "day", tz: str = "UTC",
                    group_by: list[str] | None = None, sparse: bool = False) -> dict:
        params = {"customer_id": customer_id, "from": start, "to": end, "window": window, "tz": tz,
                  "group_by": ",".join(group_by) if group_by else None, "sparse": "true" if sparse else None}
        return await self._request("GET", f"/v1/meters/{meter_id}/usage", params=_params(params))

    # -- live sessions ------------------------------------------------------------------------
    async def start_session(self, customer_id: str, session_id: str | None = None, *, entitlement: str = "gpu_compute",
                            access_entitlement: str | None = "gpu_access", plan: str | None = None,
                            description: str | None = None, allow_overage: bool = False) -> dict:
        return await self._request("POST", "/v1/sessions", json=_session_body(
            customer_id, session_id, entitlement, access_entitlement, plan, description, allow_overage))

    async def heartbeat(self, session_id: str) -> dict:
        return await self._request("POST", f"/v1/sessions/{_seg(session_id)}/heartbeat")

    async def stop_session(self, session_id: str) -> dict:
        return await self._request("POST", f"/v1/sessions/{_seg(session_id)}/stop")

    async def get_session(self, session_id: str) -> dict:
        return await self._request("GET", f"/v1/sessions/{_seg(session_id)}")

    async def session_display(self, customer_id: str, entitlement: str = "gpu_compute") -> dict:
        return await self._request("GET", f"/v1/customers/{_seg(customer_id)}/sessions/display",
                                   params={"entitlement": entitlement})


def _seg(value: str) -> str:
    """``value`` as one URL path segment."""
    return quote(value, safe="")


def _session_body(customer_id, session_id, entitlement, access_entitlement, plan, description, allow_overage) -> dict:
    body = {"customer_id": customer_id, "session_id": session_id or f"ses_{uuid.uuid4().hex}",
            "entitlement": entitlement, "access_entitlement": access_entitlement, "allow_overage": allow_overage}
    if plan is not None:
        body["plan"] = plan
    if description is not None:
        body["description"] = description
    return body


def _params(params: dict) -> dict:
    return {k: _jsonable(v) for k, v in params.items() if v is not None}
