"""API Gateway blueprint: meter API requests (REST, GraphQL, webhooks) per customer.

Event (``trackAPICall`` in ``@dodopayments/ingestion-blueprints`` sends the metadata you give; the
middlewares here fill in the keys its README shows)::

    {"event_id": "api_call_1737455400000_0c4e…", "customer_id": "cus_123", "event_name": "api_call",
     "timestamp": "2025-01-21T10:30:00.000Z",
     "metadata": {"endpoint": "/api/v1/users/42", "method": "GET", "status_code": 200,
                  "response_time_ms": 45.218, "route": "/api/v1/users/{user_id}"}}

``route`` (the path template, low cardinality) is added when the framework exposes it (Starlette
/ FastAPI routing; Flask's ``url_rule``). ``response_time_ms`` is measured with a monotonic clock
from the request to the end of the response body, to the microsecond.

Suggested meter: **count** on ``api_call``; narrow it with a filter (e.g. ``status_code`` less
than 500, or ``endpoint`` in a list) to bill only what you charge for.

Middlewares:

* ``MeteringMiddleware`` — ASGI (FastAPI, Starlette): ``app.add_middleware(MeteringMiddleware,
  ingestion=ingestion, customer_id=lambda req: req.state.get("customer_id"))``
* ``WSGIMeteringMiddleware`` — WSGI (Flask, Django): ``app.wsgi_app = WSGIMeteringMiddleware(app.wsgi_app, …)``

``customer_id`` is a callable taking a :class:`RequestInfo`; it is called **after** the response,
so it can read what your auth code stored while handling the request (``request.state.customer_id``
in Starlette; ``request.environ["meterbase.customer_id"]`` in Flask). Returning ``None`` (anonymous
or unauthenticated requests) records nothing. It may be ``async`` in the ASGI middleware.
``exclude_paths`` entries are exact paths, or prefixes when they end with ``*``. Recording never
fails a request: errors are logged.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Mapping

from ._common import Tracker, event_name_for, log, number
from .meters import SuggestedMeter

EVENT_NAME = "api_call"


def suggested_meters(event_name: str | None = None) -> list[SuggestedMeter]:
    return [SuggestedMeter("api-gateway", "API requests", event_name or EVENT_NAME, "count", None, "requests",
                           "API Gateway blueprint: API requests (count).")]


def track_api_call(ingestion: Tracker, customer_id: str, metadata: dict | None = None, *,
                   event_name: str | None = None) -> str:
    """Record one API call with your metadata (``endpoint``, ``method``, ``status_code``…)."""
    return ingestion.track(customer_id, dict(metadata or {}), event_name=event_name_for(ingestion, event_name, EVENT_NAME))


@dataclass
class RequestInfo:
    """The request as the ``customer_id`` callable sees it, for ASGI and WSGI alike."""

    method: str
    path: str
    headers: Mapping[str, str]          # lower-case names
    query_string: str
    state: dict = field(default_factory=dict)  # ASGI scope["state"] (request.state) / the WSGI environ
    raw: Any = None                      # the ASGI scope or the WSGI environ

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


CustomerResolver = Callable[[RequestInfo], "str | None | Awaitable[str | None]"]


class _Excluder:
    def __init__(self, paths: Iterable[str]):
        paths = list(paths or ())
        self.exact = {p for p in paths if not p.endswith("*")}
        self.prefixes = tuple(p[:-1] for p in paths if p.endswith("*"))

    def __call__(self, path: str) -> bool:
        return path in self.exact or (bool(self.prefixes) and path.startswith(self.prefixes))


def _elapsed_ms(start_ns: int, end_ns: int) -> int | float:
    return number(round((end_ns - start_ns) / 1_000_000, 3))


def api_call_metadata(info: RequestInfo, status_code: int, elapsed_ms: float, route: str | None) -> dict:
    meta = {"endpoint": info.path, "method": info.method, "status_code": status_code, "response_time_ms": elapsed_ms}
    if route:
        meta["route"] = route
    return meta


class _Recorder:
    def __init__(self, ingestion: Tracker, customer_id: CustomerResolver, exclude_paths: Iterable[str],
                 event_name: str | None, metadata: Callable[[RequestInfo], dict] | None, clock: Callable[[], int]):
        if not callable(customer_id):
            raise TypeError("customer_id must be a callable taking a RequestInfo")
        self.ingestion, self.customer_id, self.excluded = ingestion, customer_id, _Excluder(exclude_paths)
        self.event_name = event_name_for(ingestion, event_name, EVENT_NAME)
        self.extra, self.clock = metadata, clock

    def record(self, info: RequestInfo, customer: str | None, status: int, start_ns: int, route: str | None) -> None:
        try:
            if not customer:
                return
            meta = api_call_metadata(info, status, _elapsed_ms(start_ns, self.clock()), route)
            if self.extra is not None:
                meta.update(self.extra(info))
            self.ingestion.track(str(customer), meta, event_name=self.event_name)
        except Exception:  # noqa: BLE001 - metering must never break the API
            log.exception("meterbase: could not record an API call")


class MeteringMiddleware:
    """ASGI middleware recording one API Gateway event per HTTP request."""

    def __init__(self, app, ingestion: Tracker, customer_id: CustomerResolver, *, exclude_paths: Iterable[str] = (),
                 event_name: str | None = None, metadata: Callable[[RequestInfo], dict] | None = None,
                 clock: Callable[[], int] = time.monotonic_ns):
        self.app = app
        self._rec = _Recorder(ingestion, customer_id, exclude_paths, event_name, metadata, clock)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self._rec.excluded(scope.get("path", "")):
            return await self.app(scope, receive, send)
        start = self._rec.clock()
        status = 500  # if the app fails before starting a response, the server answers 500
        state = scope.setdefault("state", {})  # shared with request.state in the app

        async def send_wrapper(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            info = RequestInfo(
                method=scope.get("method", ""), path=scope.get("path", ""),
                headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])},
                query_string=scope.get("query_string", b"").decode("latin-1"), state=state, raw=scope)
            route = getattr(scope.get("route"), "path", None)
            try:
                customer = self._rec.customer_id(info)
                if inspect.isawaitable(customer):
                    customer = await customer
            except Exception:  # noqa: BLE001
                log.exception("meterbase: customer_id callable failed")
                customer = None
            self._rec.record(info, customer, status, start, route)


class WSGIMeteringMiddleware:
    """WSGI middleware recording one API Gateway event per request (when the response is closed)."""

    def __init__(self, app, ingestion: Tracker, customer_id: CustomerResolver, *, exclude_paths: Iterable[str] = (),
                 event_name: str | None = None, metadata: Callable[[RequestInfo], dict] | None = None,
                 clock: Callable[[], int] = time.monotonic_ns):
        self.app = app
        self._rec = _Recorder(ingestion, customer_id, exclude_paths, event_name, metadata, clock)

    def __call__(self, environ, start_response):
        if self._rec.excluded(environ.get("PATH_INFO", "")):
            return self.app(environ, start_response)
        start = self._rec.clock()
        status: list = [500, None]  # status code, route template

        def start_wrapper(status_line, headers, exc_info=None):
            status[0] = int(status_line.split(" ", 1)[0])
            # Flask's request (and its url_rule) is still in the environ while the response starts.
            status[1] = getattr(getattr(environ.get("werkzeug.request"), "url_rule", None), "rule", None)
            return start_response(status_line, headers, exc_info) if exc_info else start_response(status_line, headers)

        def done():
            self._finish(environ, status[0], start, status[1])

        try:
            body = self.app(environ, start_wrapper)
        except BaseException:
            done()
            raise
        return _ClosingBody(body, done)

    def _finish(self, environ, status: int, start: int, route: str | None) -> None:
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        for k in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(k):
                headers[k.replace("_", "-").lower()] = environ[k]
        path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"
        info = RequestInfo(method=environ.get("REQUEST_METHOD", ""), path=path, headers=headers,
                           query_string=environ.get("QUERY_STRING", ""), state=environ, raw=environ)
        try:
            customer = self._rec.customer_id(info)
        except Exception:  # noqa: BLE001
            log.exception("meterbase: customer_id callable failed")
            customer = None
        self._rec.record(info, customer, status, start, route)


class _ClosingBody:
    """Iterates the app's body; records once, when the server closes it (PEP 3333) or it runs out."""

    def __init__(self, body, on_done: Callable[[], None]):
        self._body, self._on_done, self._done = body, on_done, False

    def __iter__(self):
        try:
            yield from self._body
        finally:
            self._finish()

    def close(self):
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._finish()

    def _finish(self):
        if not self._done:
            self._done = True
            self._on_done()
