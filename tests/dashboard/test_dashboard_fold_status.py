"""The dashboard's events page shows the folder's lag and the ingest backlog bound, on every backend
(in process; the browser test is ``test_dashboard_browser.py::test_events_explorer_filters``)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.config import Settings

SECRET = "fold-status-ui-secret-" + "x" * 32


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def fold_line(client) -> tuple[str, str, str]:
    """(the line's style class, its data-fold-status, its text) on /ui/events."""
    r = client.get("/ui/events")
    assert r.status_code == 200, r.text
    m = re.search(r'<p class="small (\w+)" data-fold-status="([\w-]+)"[^>]*>(.*?)</p>', r.text, re.S)
    assert m, r.text
    return m.group(1), m.group(2), text(m.group(3)).strip()


def logged_in(store, monkeypatch, settings: Settings) -> TestClient:
    monkeypatch.setenv("MB_SECRET_KEY", SECRET)
    token, _ = store.create_key("ui", "test_mode")
    client = TestClient(create_app(store, settings), base_url="http://testserver", follow_redirects=False)
    assert client.post("/ui/login", data={"api_key": token, "next": "/ui/events"}).status_code == 303
    return client


def events(store, n: int, prefix: str = "e") -> None:
    for start in range(0, n, 1000):  # batches of at most 1000
        store.ingest("test_mode", [{"event_id": f"{prefix}{i}", "customer_id": "cus_a", "event_name": "api.call"}
                                   for i in range(start, min(n, start + 1000))])


def test_events_page_shows_the_events_waiting_for_the_folder_then_up_to_date(store, monkeypatch):
    client = logged_in(store, monkeypatch, Settings(database_url=store.url, fold_interval=0))  # no folder: no bound
    assert fold_line(client) == ("muted", "up-to-date", "Folder: folded up to seq 0 · up to date (no bound)")
    events(store, 1234)
    assert fold_line(client) == ("muted", "behind", "Folder: folded up to seq 0 · 1,234 events waiting (no bound)")
    store.fold()
    assert fold_line(client) == ("muted", "up-to-date", "Folder: folded up to seq 1,234 · up to date (no bound)")
    events(store, 1, "f")
    assert fold_line(client) == ("muted", "behind", "Folder: folded up to seq 1,234 · 1 event waiting (no bound)")


def test_events_page_shows_the_bound_and_warns_past_it(store, monkeypatch):
    settings = Settings(database_url=store.url, fold_interval=0, folder_process=True, max_unfolded=5)
    client = logged_in(store, monkeypatch, settings)
    events(store, 5)
    assert fold_line(client) == ("muted", "behind", "Folder: folded up to seq 0 · 5 events waiting (bound 5)")
    events(store, 2, "f")  # 5 waiting is not above the bound: admitted, and now 7 wait
    assert fold_line(client) == ("warn", "over-bound", "Folder: folded up to seq 0 · 7 events waiting (bound 5): "
                                                       "ingest waits for the folder, then answers 429 ingest_backlog")
    store.fold()
    assert fold_line(client) == ("muted", "up-to-date", "Folder: folded up to seq 7 · up to date (bound 5)")
