"""``count``: the number of matching events."""

from decimal import Decimal

from .base import Aggregation

AGGREGATION = Aggregation(
    name="count", order=0, label="Count", description="number of matching events", needs_key=False,
    fold=lambda p, meter, metadata, ts, seq: None, read=lambda p: Decimal(p.events), additive=True, chart="bar",
)
