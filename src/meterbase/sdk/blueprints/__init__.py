"""Ingestion blueprints: ready-made event shapes, helpers and suggested meters for common usage.

Each module documents its event structure and its suggested meters:

* :mod:`.llm` — token usage of OpenAI-/Anthropic-style clients (``LLMTracker``, ``wrap_llm_client``)
* :mod:`.gateway` — API requests (``MeteringMiddleware`` for ASGI, ``WSGIMeteringMiddleware``)
* :mod:`.storage` — uploads, downloads, deletes and storage snapshots
* :mod:`.stream` — bytes streamed, recorded chunk by chunk (``meter_stream``)
* :mod:`.time_range` — elapsed time (``track_time_range``, ``measure_time``)

They all take an ``Ingestion`` / ``AsyncIngestion`` (anything with its ``track`` method).
:mod:`.meters` lists the suggested meters and creates them (``meterbase blueprints create-meters``).
"""

from .gateway import MeteringMiddleware, RequestInfo, WSGIMeteringMiddleware, track_api_call
from .llm import LLMTracker, Usage, extract_usage, wrap_llm_client
from .meters import BLUEPRINTS, SuggestedMeter, create_suggested_meters, suggested_meters
from .storage import (track_delete, track_download, track_object_storage, track_storage_snapshot,
                      track_upload)
from .stream import StreamTracker, ameter_stream, meter_stream, track_stream_bytes
from .time_range import measure_time, track_time_range

__all__ = [
    "BLUEPRINTS", "LLMTracker", "MeteringMiddleware", "RequestInfo", "StreamTracker", "SuggestedMeter", "Usage",
    "WSGIMeteringMiddleware", "ameter_stream", "create_suggested_meters", "extract_usage", "measure_time",
    "meter_stream", "suggested_meters", "track_api_call", "track_delete", "track_download", "track_object_storage",
    "track_storage_snapshot", "track_stream_bytes", "track_time_range", "track_upload", "wrap_llm_client",
]
