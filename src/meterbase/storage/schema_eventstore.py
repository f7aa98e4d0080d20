"""Tables of the event store beyond ``events`` and the rollups (see ``storage.fold``).

``event_fold`` is the fold watermark: per environment, the seq up to which every stored event is
folded into ``meter_rollups``/``meter_distinct``. It advances in the transaction that writes those
rollups, so rollups hold exactly the events with ``seq <= last_seq``; usage reads add the raw events
after it.

``event_names`` lists the event names of the folded events per environment (the folder adds a chunk's
names in its transaction), so "which names exist" reads a few rows plus the unfolded tail, never a
scan of ``events``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, PrimaryKeyConstraint, String, Table

from .schema import metadata

event_fold = Table(
    "event_fold",
    metadata,
    Column("environment", String(16), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),  # every event up to it is in the rollups
    Column("updated_at", BigInteger, nullable=False),
)

event_names = Table(
    "event_names",
    metadata,
    Column("environment", String(16), nullable=False),
    Column("event_name", String(255), nullable=False),
    PrimaryKeyConstraint("environment", "event_name", name="pk_event_names"),
)
