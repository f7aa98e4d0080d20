"""Meters: definitions, filters, the aggregation registry (``aggregations/``, one file per aggregation),
mergeable partials and time windows (pure core, no I/O)."""

from .aggregate import Partial
from .filters import compile_filter, parse_filter
from .model import AGGREGATIONS, Meter, MeterSpec, parse_meter_spec

__all__ = ["AGGREGATIONS", "Meter", "MeterSpec", "Partial", "compile_filter", "parse_filter", "parse_meter_spec"]
