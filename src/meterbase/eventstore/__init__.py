"""The event store: where events are kept, folded into rollups and read back as usage.

Everything above storage (pricing, policy, invoicing, credits, the API and the dashboard) reaches
events and usage through the :class:`EventStore` interface defined here; the SQLite and PostgreSQL
implementation is ``meterbase.storage.sql_event_store.SqlEventStore`` (SQL stays in ``storage/``). A
ClickHouse store (``chdb`` embedded, ``clickhouse-connect`` for a server) would implement the same
protocol and be returned by ``Store.events`` without touching its callers.

The contract every implementation keeps:

* **Durable log.** :meth:`EventStore.ingest` writes the batch's new events inside the caller's
  transaction (``conn``) and nothing else: a ``2xx`` is sent after that transaction commits.
  Deduplication on ``(environment, event_id)`` is permanent (replays come back as duplicates, same id
  with other content as conflicts).
* **Fold and watermark.** :meth:`EventStore.fold` moves events after the environment's watermark into
  per meter/customer/hour/day rollups in large sorted chunks and advances the watermark in the same
  transaction, so the rollups hold exactly the events with ``seq <= watermark``. Folding twice adds
  nothing; a crash mid-fold rolls the whole chunk back. One folder runs at a time per environment.
* **Read-your-writes.** Usage reads (:meth:`usage`, :meth:`meter_total`, :meth:`meter_totals`,
  :meth:`meter_totals_many`) combine the rollups up to the watermark with the raw events after it,
  in one consistent view: an answer includes every acknowledged event exactly once, whether or not
  it has been folded yet.
* **Meters.** A meter created later is backfilled from the events up to the watermark under the fold
  lock; the events after it are read raw until the folder reaches them.

``allow()``'s usage event (``policy.service``) crosses the seam through :meth:`EventStore.ingest` on
the connection of the policy counter's transaction: the counter update and the event commit together
(or not at all), exactly as ingest's own transaction does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol, runtime_checkable

from ..events.model import Event
from ..meters.aggregate import Partial
from ..meters.model import Meter


@dataclass
class IngestResult:
    """What one batch did: new events stored, replays (same content) and conflicts (other content)."""

    ingested: int = 0
    duplicates: list[str] = field(default_factory=list)  # same id, same content: ignored
    conflicts: list[str] = field(default_factory=list)  # same id, different content: ignored, reported
    new_events: list[tuple[int, Event]] = field(default_factory=list)  # (seq, event) actually stored

    def to_dict(self) -> dict:
        return {
            "ingested_count": self.ingested,
            "duplicate_count": len(self.duplicates),
            "duplicates": self.duplicates,
            "conflict_count": len(self.conflicts),
            "conflicts": self.conflicts,
        }


@dataclass(frozen=True)
class StoredEvent:
    """An event as stored: its ``seq`` orders the log (submission order within a batch)."""

    seq: int
    event_id: str
    customer_id: str
    event_name: str
    ts: int
    metadata: dict


Window = tuple[str, int, int]  # (customer_id, start_us, end_us)


@runtime_checkable
class EventStore(Protocol):
    """Events, their rollups and usage reads. ``conn`` is an open transaction of the owning ``Store``."""

    # -- the log ------------------------------------------------------------------------------
    def ingest(self, conn: Any, environment: str, batch: list[Event], now: int) -> IngestResult:
        """Store a validated batch inside ``conn``'s transaction (the caller commits, then acks)."""

    def get_event(self, conn: Any, environment: str, event_id: str) -> dict | None: ...

    def list_events(self, conn: Any, environment: str, **filters: Any) -> list[dict]:
        """Newest first (``customer_id``, ``event_name``, ``start``, ``end``, ``after``, ``limit``, ``predicate``)."""

    def count_events(self, conn: Any, environment: str) -> int: ...

    def events_after(self, conn: Any, environment: str, after: int, upto: int, names: list[str], limit: int,
                     customer_id: str | None = None) -> list[StoredEvent]:
        """Events with ``after < seq <= upto`` of some names, in seq order (feeds such as credit deductions)."""

    def tail(self, conn: Any, environment: str, after: int, event_name: str | None = None,
             customer_id: str | None = None) -> Iterator[tuple[int, str, str, int, dict]]:
        """``(seq, customer_id, event_name, ts, metadata)`` of the events after ``after`` (the unfolded tail), in seq order."""

    def latest_seq(self, conn: Any, environment: str) -> int:
        """The largest stored seq (a cheap "anything new?"; on PostgreSQL smaller seqs may still be in flight)."""

    def high_water(self, conn: Any, environment: str) -> int:
        """A seq at or below which every event of the environment is committed (short transaction of its own)."""

    # -- folding ------------------------------------------------------------------------------
    def watermark(self, conn: Any, environment: str) -> int:
        """The seq up to which events are folded into rollups."""

    def count_after(self, conn: Any, environment: str, after: int, cap: int) -> int:
        """The environment's events with ``seq > after``, counted up to ``cap`` (seqs are shared by the modes
        and may skip values, so ``latest_seq - after`` is only an upper bound)."""

    def fold(self, environment: str | None = None, max_events: int = 50_000) -> int:
        """Fold one chunk per environment (all when ``None``) in its own transaction; events folded."""

    def backfill_meter(self, conn: Any, meter: Meter) -> int:
        """Build a new meter's rollups from the folded events (inside the meter's creating transaction)."""

    # -- usage --------------------------------------------------------------------------------
    def usage(self, conn: Any, meter: Meter, start: int, end: int, window: str = "day", tz: str = "UTC",
              customer_id: str | None = None, group_by: list[str] | None = None) -> Any:
        """Per-window series (``storage.usage.UsageResult``) of one meter."""

    def meter_total(self, conn: Any, meter: Meter, start: int, end: int, customer_id: str) -> Partial: ...

    def meter_totals(self, conn: Any, meter: Meter, start: int, end: int) -> dict[str, Partial]: ...

    def meter_totals_many(self, conn: Any, meter: Meter, windows: list[Window]) -> list[Partial]:
        """One customer's total over its own window, for many windows (an invoice run)."""


__all__ = ["EventStore", "IngestResult", "StoredEvent", "Window"]
