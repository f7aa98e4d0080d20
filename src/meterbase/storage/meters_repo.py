"""Meter definitions: create (with rollup backfill), read, list, archive.

Every change writes an audit entry (``storage.audit``) in the transaction that makes it.
"""

from __future__ import annotations

import orjson
from sqlalchemy import bindparam, select, update

from ..errors import NotFound
from ..ids import new_id
from ..meters.model import Meter, MeterSpec, parse_meter_labels
from . import audit
from .schema import meters as t


def _from_row(row) -> Meter:
    spec = MeterSpec(
        name=row.name,
        event_name=row.event_name,
        aggregation=row.aggregation,
        aggregation_key=row.aggregation_key,
        measurement_unit=row.measurement_unit,
        description=row.description,
        filter=orjson.loads(row.filter) if row.filter else None,
        aggregation_params=orjson.loads(row.aggregation_params) if row.aggregation_params else None,
    )
    return Meter(
        id=row.id,
        environment=row.environment,
        spec=spec,
        archived=bool(row.archived),
        created_us=row.created_at,
        updated_us=row.updated_at,
    )


def insert_meter(conn, environment: str, spec: MeterSpec, now_us: int) -> Meter:
    meter_id = new_id("mtr")
    conn.execute(
        t.insert().values(
            id=meter_id,
            environment=environment,
            name=spec.name,
            description=spec.description,
            event_name=spec.event_name,
            aggregation=spec.aggregation,
            aggregation_key=spec.aggregation_key,
            aggregation_params=orjson.dumps(spec.aggregation_params).decode() if spec.aggregation_params else None,
            measurement_unit=spec.measurement_unit,
            filter=orjson.dumps(spec.filter).decode() if spec.filter else None,
            archived=False,
            created_at=now_us,
            updated_at=now_us,
        )
    )
    audit.record(conn, environment, None, "meter.created", meter_id,
                 {"name": spec.name, "event_name": spec.event_name, "aggregation": spec.aggregation,
                  "aggregation_key": spec.aggregation_key, "filter": spec.filter,
                  **({"aggregation_params": spec.aggregation_params} if spec.aggregation_params else {})}, now_us)
    return Meter(id=meter_id, environment=environment, spec=spec, archived=False, created_us=now_us, updated_us=now_us)


def get_meter(conn, environment: str, meter_id: str) -> Meter:
    row = conn.execute(select(t).where(t.c.environment == environment, t.c.id == meter_id)).first()
    if row is None:
        raise NotFound(f"meter {meter_id!r} not found", "meter_id")
    return _from_row(row)


def list_meters(conn, environment: str, archived: bool | None = False, limit: int = 100, offset: int = 0) -> list[Meter]:
    q = select(t).where(t.c.environment == environment)
    if archived is not None:
        q = q.where(t.c.archived == archived)
    q = q.order_by(t.c.created_at.desc(), t.c.id).offset(offset).limit(limit)
    return [_from_row(r) for r in conn.execute(q)]


_FOR_EVENTS = select(t).where(t.c.environment == bindparam("env"), t.c.event_name.in_(bindparam("names", expanding=True)))
_BY_ROW: dict[tuple, Meter] = {}  # a meter row's full content -> its Meter (filter compiled once)
_BY_ROW_MAX = 4096


def meters_for_events(conn, environment: str, event_names: set[str]) -> dict[str, list[Meter]]:
    """Every meter (archived too: unarchiving must not lose usage) keyed by event name.

    On every ingest: the statement is built once, and Meter objects are reused while their row is
    unchanged (keyed by the whole row, so any change to a meter makes a new one). Callers only read them.
    """
    if not event_names:
        return {}
    return _by_event_name(conn.execute(_FOR_EVENTS, {"env": environment, "names": sorted(event_names)}))


def _by_event_name(rows) -> dict[str, list[Meter]]:
    """Meters of ``rows`` keyed by event name, reusing the Meter object of an unchanged row."""
    out: dict[str, list[Meter]] = {}
    for row in rows:
        key = tuple(row)
        m = _BY_ROW.get(key)
        if m is None:
            if len(_BY_ROW) >= _BY_ROW_MAX:
                _BY_ROW.clear()
            m = _BY_ROW[key] = _from_row(row)
        out.setdefault(m.event_name, []).append(m)
    return out


_OF_ENV = select(t).where(t.c.environment == bindparam("env"))


def meters_by_event_name(conn, environment: str) -> dict[str, list[Meter]]:
    """Every meter of ``environment`` (archived too) keyed by event name: the folder's one lookup per chunk."""
    return _by_event_name(conn.execute(_OF_ENV, {"env": environment}))


def set_archived(conn, environment: str, meter_id: str, archived: bool, now_us: int) -> Meter:
    res = conn.execute(
        update(t).where(t.c.environment == environment, t.c.id == meter_id).values(archived=archived, updated_at=now_us)
    )
    if res.rowcount == 0:
        raise NotFound(f"meter {meter_id!r} not found", "meter_id")
    audit.record(conn, environment, None, "meter.archived" if archived else "meter.unarchived", meter_id, {}, now_us)
    return get_meter(conn, environment, meter_id)


def update_meter_labels(conn, environment: str, meter_id: str, changes: dict, now_us: int) -> Meter:
    """Only labels (name, description, unit) change: the definition stays immutable."""
    allowed = parse_meter_labels(changes)
    get_meter(conn, environment, meter_id)
    if allowed:
        conn.execute(update(t).where(t.c.environment == environment, t.c.id == meter_id).values(**allowed, updated_at=now_us))
        audit.record(conn, environment, None, "meter.updated", meter_id, allowed, now_us)
    return get_meter(conn, environment, meter_id)
