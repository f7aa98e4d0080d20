"""Logged-in browser pages at desktop and phone width, and screenshots of both (dashboard browser tests)."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

VIEWPORTS = (("desktop", {"width": 1366, "height": 900}), ("phone", {"width": 360, "height": 740}))


@contextmanager
def logged_in_pages(browser, url: str, token: str) -> Iterator[dict]:
    """``{"desktop": page, "phone": page}``, both logged in to the dashboard at ``url`` with ``token``;
    any JavaScript error on either fails at the end."""
    out, errors, contexts = {}, [], []
    for name, viewport in VIEWPORTS:
        ctx = browser.new_context(viewport=viewport, base_url=url, timezone_id="UTC")
        contexts.append(ctx)
        pg = ctx.new_page()
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        pg.goto("/ui/login")
        pg.fill("#api_key", token)
        pg.click("#login-submit")
        pg.wait_for_url(re.compile(r".*/ui$"))
        out[name] = pg
    yield out
    for ctx in contexts:
        ctx.close()
    assert not errors, f"JavaScript errors: {errors}"


def shoot_both(pages: dict, shots: Path, stem: str, path: str) -> None:
    """Screenshot ``path`` at both widths as ``<stem>-360.png`` and ``<stem>.png``; at 360 px nothing may
    scroll sideways."""
    phone = pages["phone"]
    phone.goto(path)
    phone.wait_for_function("document.documentElement.dataset.ready === '1'")
    overflow = phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 360 px"
    phone.screenshot(path=str(shots / f"{stem}-360.png"), full_page=True)
    pages["desktop"].screenshot(path=str(shots / f"{stem}.png"), full_page=True)
