"""Run callables in threads at once and collect what they raised (for concurrency tests)."""

from __future__ import annotations

import threading
from typing import Callable


def run_together(*calls: Callable[[], object]) -> list[BaseException]:
    """Start every call in its own thread, wait for all; returns the exceptions they raised (none: [])."""
    errors: list[BaseException] = []

    def guarded(call):
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test, which asserts there is none
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(call,)) for call in calls]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return errors
