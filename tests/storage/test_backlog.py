"""``storage.backlog``: ingest waits while more events than the bound await the folder, then is refused."""

from __future__ import annotations

import pytest

from meterbase.errors import Backlogged
from meterbase.storage.backlog import Backlog


class FakeStore:
    """A watermark that moves as the test says; counts its reads and the counts of a mode's own events."""

    def __init__(self, latest: int, folded: int, own: int | None = None):
        self.latest, self.folded, self.reads = latest, folded, 0
        self.own = own  # this mode's events after the watermark (None: every seq in between is one)
        self.counts = 0
        self.on_read = None

    def fold_lag(self, environment: str, cap: int, count_above: int = 0) -> dict:
        self.reads += 1
        if self.on_read:
            self.on_read(self)
        upper = self.latest - self.folded
        if upper > count_above:
            self.counts += 1
            unfolded = min(cap, upper if self.own is None else self.own)
        else:
            unfolded = upper
        return {"environment": environment, "folded_seq": self.folded, "latest_seq": self.latest, "unfolded": unfolded}


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def _backlog(store, clock, bound=1000) -> Backlog:
    return Backlog(store, bound, max_wait=2.0, recheck=0.25, clock=clock, sleep=clock.sleep)


def test_a_tail_within_the_bound_is_admitted_at_once():
    clock, store = Clock(), FakeStore(latest=1500, folded=500)  # 1,000 unfolded: exactly the bound
    _backlog(store, clock).admit("live_mode")
    assert clock.t == 100.0 and store.reads == 1


def test_a_request_waits_until_the_folder_brings_the_tail_under_the_bound():
    clock, store = Clock(), FakeStore(latest=5000, folded=1000)  # 4,000 unfolded

    def folder_catches_up(s):
        if clock.t >= 100.75:
            s.folded = 4500  # 500 left
    store.on_read = folder_catches_up
    _backlog(store, clock).admit("live_mode")
    assert clock.t == pytest.approx(100.75)  # three rechecks of 0.25 s
    assert store.reads == 4


def test_past_the_wait_the_request_is_refused_with_retry_after():
    clock, store = Clock(), FakeStore(latest=5000, folded=1000)
    with pytest.raises(Backlogged) as info:
        _backlog(store, clock).admit("live_mode")
    err = info.value
    assert (err.status, err.code, err.headers) == (429, "ingest_backlog", {"Retry-After": "1"})
    assert err.message.startswith("ingest backlog: more than MB_MAX_UNFOLDED (1,000) events of live_mode await the folder")
    assert clock.t == pytest.approx(102.0)  # waited max_wait


def test_the_watermark_is_read_at_most_once_per_recheck_interval():
    clock, store = Clock(), FakeStore(latest=10, folded=0)
    b = _backlog(store, clock)
    for _ in range(50):
        b.admit("live_mode")  # the clock does not move: one read serves them all
    assert store.reads == 1
    clock.t += 0.25
    b.admit("live_mode")
    assert store.reads == 2
    b.admit("test_mode")  # each environment its own tail
    assert store.reads == 3


def test_the_other_modes_events_do_not_count():
    """Seqs are shared by the modes: 4,000 seqs after the watermark, of which 10 are this mode's events."""
    clock, store = Clock(), FakeStore(latest=5000, folded=1000, own=10)
    _backlog(store, clock).admit("live_mode")
    assert clock.t == 100.0 and store.counts == 1  # counted once, admitted at once


def test_within_the_bound_nothing_is_counted():
    clock, store = Clock(), FakeStore(latest=1500, folded=1000)
    _backlog(store, clock).admit("live_mode")
    assert store.counts == 0  # latest - folded (an upper bound) already says so
