"""Object Storage blueprint: bill uploads, downloads (egress) and storage used (S3, GCS, Azure Blob…).

Operation event (``trackObjectStorage`` in ``@dodopayments/ingestion-blueprints`` sends
``{"bytes": n, ...metadata}``; we add ``operation`` and ``file_type`` so one event name serves
every operation and meters pick theirs with a filter)::

    {"event_id": "object_storage_1737455400000_77c0…", "customer_id": "cus_123",
     "event_name": "object_storage", "timestamp": "2025-01-21T10:30:00.000Z",
     "metadata": {"bytes": 1048576, "operation": "upload", "file_type": "pdf",
                  "bucket": "my-bucket", "key": "uploads/document.pdf"}}

``file_type`` is the lower-case extension of ``key`` (or the extension for ``content_type``),
omitted when unknown; ``bucket`` and ``key`` are sent only when given.

Snapshot event (seed "Storage Billing": a periodic reading of the bytes a customer stores)::

    {"event_name": "storage.snapshot", "metadata": {"bytes": 5368709120}, ...}

Suggested meters: **sum** ``bytes`` on ``object_storage`` filtered ``operation = upload`` and
``operation = download``; **last** ``bytes`` on ``storage.snapshot`` (storage used now); and
**time_weighted** ``bytes`` (gauge, per hour) on ``storage.snapshot``: byte-hours held, what storage is
billed by (a snapshot sets the level until the next one; 1e9 byte-hours = 1 GB-hour). Deletes
are recorded (for audit and for count meters) but summed by neither suggested meter.

Event names: operations use ``event_name`` > the ingestion's ``event_name`` > ``object_storage``;
snapshots use ``event_name`` > ``storage.snapshot`` (the ingestion's name is meant for operations).
"""

from __future__ import annotations

import mimetypes
import posixpath
from datetime import datetime
from typing import Any

from ._common import Tracker, event_name_for
from .meters import SuggestedMeter

EVENT_NAME = "object_storage"
SNAPSHOT_EVENT_NAME = "storage.snapshot"
OPERATIONS = ("upload", "download", "delete")


def suggested_meters(event_name: str | None = None, *, snapshot_event_name: str | None = None) -> list[SuggestedMeter]:
    name = event_name or EVENT_NAME

    def op(value: str) -> dict:
        return {"conjunction": "and", "clauses": [{"key": "operation", "operator": "equals", "value": value}]}

    return [
        SuggestedMeter("object-storage", "Storage uploaded", name, "sum", "bytes", "bytes",
                       "Object Storage blueprint: bytes uploaded (sum of bytes, operation = upload).", op("upload")),
        SuggestedMeter("object-storage", "Storage downloaded", name, "sum", "bytes", "bytes",
                       "Object Storage blueprint: bytes downloaded (sum of bytes, operation = download).",
                       op("download")),
        SuggestedMeter("object-storage", "Storage used", snapshot_event_name or SNAPSHOT_EVENT_NAME, "last", "bytes",
                       "bytes", "Object Storage blueprint: storage used (last snapshot of bytes)."),
        SuggestedMeter("object-storage", "Storage held", snapshot_event_name or SNAPSHOT_EVENT_NAME, "time_weighted",
                       "bytes", "byte-hours",
                       "Object Storage blueprint: storage held over time (time-weighted bytes, gauge, per hour); "
                       "1e9 byte-hours are one GB-hour.", params={"mode": "gauge", "per": "hour"}),
    ]


def file_type(key: str | None = None, content_type: str | None = None) -> str | None:
    """``"pdf"`` for ``uploads/Report.PDF``; from ``content_type`` when the key has no extension."""
    if key:
        ext = posixpath.splitext(key.rsplit("/", 1)[-1])[1]
        if ext:
            return ext[1:].lower()
    if content_type:
        ext = mimetypes.guess_extension(content_type.split(";")[0].strip())
        if ext:
            return ext[1:].lower()
    return None


def _size(nbytes: int) -> int:
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
        raise ValueError("bytes must be a non-negative integer")
    return nbytes


def storage_metadata(nbytes: int, operation: str, *, key: str | None = None, bucket: str | None = None,
                     content_type: str | None = None, file_type_: str | None = None,
                     metadata: dict | None = None) -> dict:
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {', '.join(OPERATIONS)}")
    meta: dict[str, Any] = {"bytes": _size(nbytes), "operation": operation}
    ft = file_type_ or file_type(key, content_type)
    if ft:
        meta["file_type"] = ft
    if bucket is not None:
        meta["bucket"] = bucket
    if key is not None:
        meta["key"] = key
    return {**meta, **(metadata or {})}


def track_object_storage(ingestion: Tracker, customer_id: str, nbytes: int, *, operation: str = "upload",
                         key: str | None = None, bucket: str | None = None, content_type: str | None = None,
                         file_type: str | None = None, metadata: dict | None = None,
                         event_name: str | None = None) -> str:
    """Record one storage operation of ``nbytes``; returns the ``event_id``."""
    meta = storage_metadata(nbytes, operation, key=key, bucket=bucket, content_type=content_type,
                            file_type_=file_type, metadata=metadata)
    return ingestion.track(customer_id, meta, event_name=event_name_for(ingestion, event_name, EVENT_NAME))


def track_upload(ingestion: Tracker, customer_id: str, nbytes: int, **kwargs: Any) -> str:
    return track_object_storage(ingestion, customer_id, nbytes, operation="upload", **kwargs)


def track_download(ingestion: Tracker, customer_id: str, nbytes: int, **kwargs: Any) -> str:
    return track_object_storage(ingestion, customer_id, nbytes, operation="download", **kwargs)


def track_delete(ingestion: Tracker, customer_id: str, nbytes: int, **kwargs: Any) -> str:
    return track_object_storage(ingestion, customer_id, nbytes, operation="delete", **kwargs)


def track_storage_snapshot(ingestion: Tracker, customer_id: str, bytes_used: int, *, metadata: dict | None = None,
                           event_name: str | None = None, timestamp: datetime | str | None = None) -> str:
    """Record the bytes ``customer_id`` stores (now, or as of ``timestamp``) for a ``last`` meter;
    call it periodically or after changes."""
    kwargs = {"timestamp": timestamp} if timestamp is not None else {}
    return ingestion.track(customer_id, {"bytes": _size(bytes_used), **(metadata or {})},
                           event_name=event_name or SNAPSHOT_EVENT_NAME, **kwargs)
