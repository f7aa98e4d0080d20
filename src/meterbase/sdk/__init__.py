"""Python SDK (a surface): a thin, typed client for a meterbase server, batched ingestion and blueprints.

``client`` (``Meterbase``, ``AsyncMeterbase``); ``ingestion`` (``Ingestion``, a background thread) and
``ingestion_async`` (``AsyncIngestion``) on the shared queue of ``ingestion_base``, flushed at exit by
``shutdown``; ``blueprints/`` meter LLM calls, API gateways, object storage, streams and time ranges.
"""

from .client import AsyncMeterbase, Meterbase, MeterbaseAPIError
from .ingestion import AsyncIngestion, Ingestion, IngestionError, QueueFullError

__all__ = ["AsyncIngestion", "AsyncMeterbase", "Ingestion", "IngestionError", "Meterbase", "MeterbaseAPIError",
           "QueueFullError"]
