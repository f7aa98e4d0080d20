"""Object Storage blueprint: upload / download / delete events and storage snapshots."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from meterbase.sdk.blueprints import (track_delete, track_download, track_object_storage, track_storage_snapshot,
                                      track_upload)
from meterbase.sdk.blueprints.storage import file_type

from .conftest import bag


def test_exact_events(recorder):
    track_upload(recorder, "cus_s", 1048576, key="uploads/Report.PDF", bucket="docs")
    track_download(recorder, "cus_s", 2048, key="img/cat", content_type="image/png")
    track_delete(recorder, "cus_s", 1048576, key="uploads/Report.PDF", metadata={"reason": "gdpr"})
    track_object_storage(recorder, "cus_s", 10, operation="upload", file_type="parquet", event_name="lake_io")
    track_storage_snapshot(recorder, "cus_s", 5368709120)
    assert [(c["event_name"], c["metadata"]) for c in recorder.calls] == [
        ("object_storage", {"bytes": 1048576, "operation": "upload", "file_type": "pdf", "bucket": "docs",
                            "key": "uploads/Report.PDF"}),
        ("object_storage", {"bytes": 2048, "operation": "download", "file_type": "png", "key": "img/cat"}),
        ("object_storage", {"bytes": 1048576, "operation": "delete", "file_type": "pdf", "key": "uploads/Report.PDF",
                            "reason": "gdpr"}),
        ("lake_io", {"bytes": 10, "operation": "upload", "file_type": "parquet"}),
        ("storage.snapshot", {"bytes": 5368709120}),
    ]
    assert file_type("archive.tar.gz") == "gz" and file_type("README") is None
    with pytest.raises(ValueError):
        track_upload(recorder, "cus_s", -1)
    with pytest.raises(ValueError):
        track_object_storage(recorder, "cus_s", 1, operation="copy")


def test_storage_events_and_meters_end_to_end(server, meters):
    now = datetime.now(timezone.utc)
    with server.ingestion() as ing:
        track_upload(ing, "cus_store", 1_000_000, key="a/video.mp4")
        track_upload(ing, "cus_store", 250_000, key="a/notes.txt")
        track_download(ing, "cus_store", 1_000_000, key="a/video.mp4")
        track_download(ing, "cus_store", 3_000, key="a/notes.txt")
        track_delete(ing, "cus_store", 250_000, key="a/notes.txt")
        # storage used over time: the `last` meter keeps the latest reading, whatever its size
        for minutes_ago, used in [(30, 1_250_000), (20, 1_000_000), (10, 1_000_042)]:
            track_storage_snapshot(ing, "cus_store", used, timestamp=now - timedelta(minutes=minutes_ago))
    events = server.events("cus_store")
    assert bag((e["event_name"], e["metadata"]) for e in events) == bag([
        ("object_storage", {"bytes": 1_000_000, "operation": "upload", "file_type": "mp4", "key": "a/video.mp4"}),
        ("object_storage", {"bytes": 250_000, "operation": "upload", "file_type": "txt", "key": "a/notes.txt"}),
        ("object_storage", {"bytes": 1_000_000, "operation": "download", "file_type": "mp4", "key": "a/video.mp4"}),
        ("object_storage", {"bytes": 3_000, "operation": "download", "file_type": "txt", "key": "a/notes.txt"}),
        ("object_storage", {"bytes": 250_000, "operation": "delete", "file_type": "txt", "key": "a/notes.txt"}),
        ("storage.snapshot", {"bytes": 1_250_000}),
        ("storage.snapshot", {"bytes": 1_000_000}),
        ("storage.snapshot", {"bytes": 1_000_042}),
    ])
    assert server.usage(meters["Storage uploaded"], "cus_store") == 1_250_000
    assert server.usage(meters["Storage downloaded"], "cus_store") == 1_003_000
    assert server.usage(meters["Storage used"], "cus_store") == 1_000_042
