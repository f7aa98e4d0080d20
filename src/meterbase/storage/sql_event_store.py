"""The SQLite and PostgreSQL event store (``meterbase.eventstore.EventStore``).

One class serves both backends: their differences (seq allocation, advisory locks, the tail's access
path, batch statements) are in :mod:`.dialect`. The SQL itself stays in the storage modules this class
routes to: ``events_repo`` (the log), ``fold`` (watermark and folder), ``rollups`` (partials),
``usage``/``usage_batch`` (reads merging rollups with the unfolded tail).

:func:`event_store_for` is how code that only holds a connection (the invoice pricer, the credit feed,
policy's ``allow``) reaches the event store of that connection's database.
"""

from __future__ import annotations

from typing import Any

from ..events.model import Event
from ..eventstore import EventStore, IngestResult, StoredEvent, Window
from ..meters.aggregate import Partial
from ..meters.model import Meter
from . import dialect, events_repo, fold, locks, meters_repo, rollups, usage, usage_batch


class SqlEventStore:
    """Events, rollups and usage reads in the relational database the ``Store`` writes to."""

    def __init__(self, store: Any = None):
        self.store = store  # needed by fold() only (it opens its own transactions)

    # -- the log ------------------------------------------------------------------------------
    def ingest(self, conn, environment: str, batch: list[Event], now: int) -> IngestResult:
        """Insert the batch's new events (only events: rollups come from the folder)."""
        locks.meters_shared(conn, environment)  # PostgreSQL: high_water() and meter creation wait for us
        return events_repo.insert_events(conn, environment, batch, now)

    def get_event(self, conn, environment: str, event_id: str) -> dict | None:
        return events_repo.get_event(conn, environment, event_id)

    def list_events(self, conn, environment: str, **filters: Any) -> list[dict]:
        return events_repo.list_events(conn, environment, **filters)

    def count_events(self, conn, environment: str) -> int:
        return events_repo.count_events(conn, environment)

    def events_after(self, conn, environment: str, after: int, upto: int, names: list[str], limit: int,
                     customer_id: str | None = None) -> list[StoredEvent]:
        return events_repo.events_after(conn, environment, after, upto, names, limit, customer_id)

    def tail(self, conn, environment: str, after: int, event_name: str | None = None, customer_id: str | None = None):
        return events_repo.scan_tail(conn, environment, event_name, after, customer_id)

    def latest_seq(self, conn, environment: str) -> int:
        return events_repo.latest_seq(conn, environment)

    def high_water(self, conn, environment: str) -> int:
        locks.meters_exclusive(conn, environment)
        return events_repo.latest_seq(conn, environment)

    # -- folding ------------------------------------------------------------------------------
    def watermark(self, conn, environment: str) -> int:
        return fold.watermark(conn, environment)

    def count_after(self, conn, environment: str, after: int, cap: int) -> int:
        return events_repo.count_after(conn, environment, after, cap)

    def fold(self, environment: str | None = None, max_events: int = fold.CHUNK) -> int:
        if self.store is None:
            raise RuntimeError("fold() needs the event store of a Store (Store.events)")
        return fold.fold(self.store, environment, max_events)

    def backfill_meter(self, conn, meter: Meter) -> int:
        """Fold the events up to the watermark into a new meter's rollups; the caller's transaction holds
        the meters' and the fold's exclusive locks, so neither ingest nor the folder moves meanwhile."""
        locks.fold_exclusive(conn, meter.environment)
        return rollups.backfill(conn, meter, upto=fold.watermark(conn, meter.environment))

    # -- usage --------------------------------------------------------------------------------
    def usage(self, conn, meter: Meter, start: int, end: int, window: str = "day", tz: str = "UTC",
              customer_id: str | None = None, group_by: list[str] | None = None) -> usage.UsageResult:
        return usage.query_usage(conn, meter, start, end, window, tz, customer_id, group_by)

    def meter_total(self, conn, meter: Meter, start: int, end: int, customer_id: str) -> Partial:
        return usage.meter_total(conn, meter, start, end, customer_id)

    def meter_totals(self, conn, meter: Meter, start: int, end: int) -> dict[str, Partial]:
        return usage.meter_totals(conn, meter, start, end)

    def meter_totals_many(self, conn, meter: Meter, windows: list[Window]) -> list[Partial]:
        return usage_batch.meter_totals_many(conn, meter, windows)

    def meters_for(self, conn, environment: str, names: set[str]) -> dict[str, list[Meter]]:
        return meters_repo.meters_for_events(conn, environment, names)


_CONNECTION_STORE = SqlEventStore()


def event_store_for(conn) -> SqlEventStore:
    """The event store of ``conn``'s database, for its connection-level operations (not ``fold``)."""
    if dialect.name(conn) not in (dialect.SQLITE, dialect.POSTGRESQL):
        raise NotImplementedError(f"no event store for {dialect.name(conn)}")
    return _CONNECTION_STORE


assert isinstance(_CONNECTION_STORE, EventStore)
