"""Python SDK: a thin, typed client for a meterbase server."""

from .client import Meterbase, MeterbaseAPIError

__all__ = ["Meterbase", "MeterbaseAPIError"]
