"""``last``: the value of a numeric property in the latest event (by timestamp, then sequence)."""

from .base import NUMERIC_COLUMNS, Aggregation, numeric_fold

AGGREGATION = Aggregation(
    name="last", order=5, label="Last value", description="latest value of a numeric property", needs_key=True,
    numeric=True, fold=numeric_fold, read=lambda p: p.last_value if p.n else None,
    columns=NUMERIC_COLUMNS + ("last_ts", "last_seq", "last_value"),
    combine="sum", combined_label="sum of each customer's last value",
)
