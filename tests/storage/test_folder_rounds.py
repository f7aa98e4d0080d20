"""``fold.Folder``'s rounds: chunks double while the folder is behind, back to the base size once a chunk
comes back short; and an environment's latest seq is read through ``ix_events_env_seq`` (one probe)."""

from __future__ import annotations

import threading

from sqlalchemy import text

from meterbase.storage import fold


def test_chunks_double_while_behind_and_reset_when_caught_up(monkeypatch):
    """Rounds face a backlog of 900 events, then nothing."""
    stop = threading.Event()
    sizes: list[int] = []
    backlog = [900]

    def fake_fold(store, environment=None, max_events=fold.CHUNK):
        sizes.append(max_events)
        n = min(max_events, backlog[0])
        backlog[0] -= n
        if len(sizes) == 8:
            stop.set()
        return n

    monkeypatch.setattr(fold, "fold", fake_fold)
    folder = fold.Folder(store=None, interval=0, max_events=100, stop=stop)
    folded: list[int] = []
    folder.run(after_round=folded.append)
    # 100 full, then doubled but capped at GROWTH x 100 = 200 while chunks come back full; the round that
    # finds nothing is short: back to 100
    assert sizes == [100, 200, 200, 200, 200, 200, 100, 100]
    assert folded == [100, 200, 200, 200, 200, 0, 0, 0]
    assert fold.Folder.GROWTH == 2


def test_a_failed_round_is_logged_and_retried(monkeypatch, caplog):
    stop = threading.Event()
    calls: list[int] = []

    def flaky(store, environment=None, max_events=fold.CHUNK):
        calls.append(max_events)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        stop.set()
        return 0

    monkeypatch.setattr(fold, "fold", flaky)
    fold.Folder(store=None, interval=0, max_events=10, stop=stop).run()
    assert calls == [10, 10]
    assert "fold round failed" in caplog.text


def test_keep_going_ends_the_rounds(monkeypatch):
    monkeypatch.setattr(fold, "fold", lambda store, environment=None, max_events=fold.CHUNK: 0)
    rounds: list[int] = []
    fold.Folder(store=None, interval=0, max_events=10).run(keep_going=lambda: len(rounds) < 3,
                                                           after_round=rounds.append)
    assert rounds == [0, 0, 0]


def test_latest_seq_and_the_tail_count_read_the_environment_seq_index(store):
    if store.write_engine.dialect.name != "sqlite":
        return  # PostgreSQL's plans depend on its statistics; the index itself is checked by the migration test
    with store.read() as conn:
        plans = [" ".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {q}")))
                 for q in ("SELECT coalesce(max(seq), 0) FROM events WHERE environment = 'live_mode'",
                           "SELECT count(*) FROM (SELECT 1 FROM events WHERE environment = 'live_mode' AND seq > 5 "
                           "LIMIT 10) AS tail")]
    assert all("ix_events_env_seq" in p for p in plans), plans
