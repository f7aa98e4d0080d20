"""The normalised event record and the limits that define a valid one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

MetadataValue = Union[str, int, float, bool]

MAX_BATCH = 1000
MAX_ID_LEN = 255
MAX_METADATA_KEYS = 100
MAX_KEY_LEN = 128
MAX_STRING_VALUE_LEN = 4096


@dataclass(slots=True)
class Event:
    """A validated event. ``ts_us`` is UTC microseconds since the epoch.

    ``fingerprint`` identifies the client-supplied content, so a replay of the same ``event_id``
    can be told apart from a different event reusing an id (a conflict).
    """

    event_id: str
    customer_id: str
    event_name: str
    ts_us: int
    metadata: dict[str, MetadataValue] = field(default_factory=dict)
    fingerprint: str = ""
