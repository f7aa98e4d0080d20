"""Python SDK: a thin, typed client for a meterbase server, batched ingestion and blueprints."""

from .client import AsyncMeterbase, Meterbase, MeterbaseAPIError
from .ingestion import AsyncIngestion, Ingestion, IngestionError, QueueFullError

__all__ = ["AsyncIngestion", "AsyncMeterbase", "Ingestion", "IngestionError", "Meterbase", "MeterbaseAPIError",
           "QueueFullError"]
