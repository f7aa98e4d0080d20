"""Webhook endpoints: where messages go and with which secret (rows in ``storage.webhooks_repo``)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

import orjson

from ..errors import ValidationError
from ..ids import new_id
from ..storage import audit, webhooks_repo as repo
from ..storage.keys_repo import ENVIRONMENTS
from .signing import new_secret


@dataclass(frozen=True)
class Endpoint:
    id: str
    environment: str
    url: str
    secret: str
    event_types: list[str]
    disabled: bool


def _endpoint(row) -> Endpoint:
    return Endpoint(row.id, row.environment, row.url, row.secret, orjson.loads(row.event_types), bool(row.disabled))


def add_endpoint(conn, environment: str, url: str, event_types: list[str] | None, now_us: int,
                 secret: str | None = None) -> Endpoint:
    """Register ``url`` for ``event_types`` (empty = every type); a ``whsec_`` secret is generated."""
    if environment not in ENVIRONMENTS:
        raise ValidationError(f"environment must be one of {', '.join(ENVIRONMENTS)}", "environment")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValidationError("url must be an absolute http(s) URL", "url")
    ep = Endpoint(new_id("whe"), environment, url, secret or new_secret(), list(event_types or []), False)
    repo.insert_endpoint(conn, id=ep.id, environment=environment, url=url, secret=ep.secret,
                         event_types_json=orjson.dumps(ep.event_types).decode(), now_us=now_us)
    audit.record(conn, environment, None, "webhook_endpoint.created", ep.id,
                 {"url": url, "event_types": ep.event_types}, now_us)
    return ep


def list_endpoints(conn, environment: str | None = None) -> list[Endpoint]:
    return [_endpoint(r) for r in repo.endpoint_rows(conn, environment)]


def endpoints_by_id(conn, ids: set[str]) -> dict[str, Endpoint]:
    return {r.id: _endpoint(r) for r in repo.endpoint_rows_by_id(conn, ids)}
