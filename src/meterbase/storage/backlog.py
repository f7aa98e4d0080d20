"""The bound on the unfolded tail: ingest waits for the folder when too many events await it.

Ingest acknowledges a batch once its events are committed; the folder rolls them up later
(``storage.fold``). Usage reads stay exact meanwhile by reading the unfolded tail raw, so a tail that
keeps growing (ingest faster than the folder, for minutes) would make every usage read slower and
slower. :class:`Backlog` bounds it: while more than ``bound`` events of an environment await the
folder, an ingest request waits (polling the watermark) until the tail is back under the bound, at
most :data:`MAX_WAIT` seconds; then it is refused with ``429 ingest_backlog`` and ``Retry-After``,
before anything is written. Acknowledged throughput thus follows what the folder sustains.

Only where a folder runs (a server's folder process or thread): without one (``MB_FOLD_INTERVAL=0``
everywhere, a bulk load folded afterwards by ``meterbase events fold``) nothing would drain the tail.
"""

from __future__ import annotations

import threading
import time

from ..errors import Backlogged

#: Seconds an ingest request waits for the tail to drop under the bound before it is refused.
MAX_WAIT = 5.0
#: Seconds a measured tail is trusted (per process and environment): the watermark is read at most
#: this often, however many requests wait. So the bound is approximate: within this interval a process
#: admits batches on the last measure (at most a quarter second of its ingest past the bound).
RECHECK = 0.25


class Backlog:
    def __init__(self, store, bound: int, max_wait: float | None = None, recheck: float | None = None,
                 clock=time.monotonic, sleep=time.sleep):
        self.store, self.bound = store, bound
        self.max_wait = MAX_WAIT if max_wait is None else max_wait
        self.recheck = RECHECK if recheck is None else recheck
        self.clock, self.sleep = clock, sleep
        self._seen: dict[str, tuple[float, int]] = {}  # environment -> (measured at, unfolded events)
        self._lock = threading.Lock()

    def unfolded(self, environment: str) -> int:
        """Events of ``environment`` after the fold watermark, exact up to ``bound + 1`` (measured at most every
        ``recheck`` seconds). ``latest_seq - folded_seq`` first: seqs are shared by the two modes, so it is an
        upper bound, and when it is within the bound nothing is counted; otherwise the environment's own
        events are (through ``(environment, seq)``, at most ``bound + 1`` of them): a busy test_mode never
        holds live_mode's ingest back."""
        now = self.clock()
        with self._lock:
            seen = self._seen.get(environment)
        if seen is not None and now - seen[0] < self.recheck:
            return seen[1]
        tail = self.store.fold_lag(environment, self.bound + 1, count_above=self.bound)["unfolded"]
        with self._lock:
            self._seen[environment] = (now, tail)
        return tail

    def admit(self, environment: str) -> None:
        """Return when ``environment``'s tail is within the bound; raise :class:`Backlogged` after ``max_wait``."""
        tail = self.unfolded(environment)
        if tail <= self.bound:
            return
        deadline = self.clock() + self.max_wait
        while True:
            self.sleep(self.recheck)
            tail = self.unfolded(environment)
            if tail <= self.bound:
                return
            if self.clock() >= deadline:
                raise Backlogged(
                    f"ingest backlog: more than MB_MAX_UNFOLDED ({self.bound:,}) events of {environment} await the "
                    f"folder after waiting {self.max_wait:g} s; nothing was stored, retry the batch (it is idempotent)",
                    retry_after=1)
