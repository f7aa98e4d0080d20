"""Process-wide shutdown hooks of the ingestion clients: flush at interpreter exit and on SIGTERM.

Every live ``Ingestion`` / ``AsyncIngestion`` registers here; ``atexit`` calls each one's ``_at_exit``
(a final flush, then the spool or a "lost" log line). :func:`install_sigterm_handler` turns SIGTERM
into ``SystemExit`` so that flush also runs when the process is asked to stop.
"""

from __future__ import annotations

import atexit
import logging
import signal
import threading
import weakref
from typing import Protocol

log = logging.getLogger("meterbase.sdk")


class _Closable(Protocol):
    def _at_exit(self) -> None: ...


_LIVE: "weakref.WeakSet[_Closable]" = weakref.WeakSet()
_hooks_lock = threading.Lock()
_atexit_installed = False


def _register(client: _Closable, handle_signals: bool) -> None:
    global _atexit_installed
    with _hooks_lock:
        _LIVE.add(client)
        if not _atexit_installed:
            atexit.register(_close_all)
            _atexit_installed = True
    if handle_signals:
        install_sigterm_handler()


def _unregister(client: _Closable) -> None:
    with _hooks_lock:
        _LIVE.discard(client)


def _close_all() -> None:
    for client in list(_LIVE):
        try:
            client._at_exit()
        except Exception:  # noqa: BLE001 - keep closing the others
            log.exception("meterbase: flush at exit failed")


def _sigterm(signum, frame) -> None:
    # Unwind the main thread like Ctrl-C does: finally blocks and atexit (our flush) run.
    raise SystemExit(128 + signum)


def install_sigterm_handler() -> bool:
    """Make SIGTERM exit through ``SystemExit`` so queued events are flushed by ``atexit``.

    Only from the main thread and only when SIGTERM still has its default action (a handler the
    application installed is left alone). Returns whether the handler is in place.
    """
    if threading.current_thread() is not threading.main_thread():
        return signal.getsignal(signal.SIGTERM) is _sigterm
    current = signal.getsignal(signal.SIGTERM)
    if current is _sigterm:
        return True
    if current is not signal.SIG_DFL:
        return False
    signal.signal(signal.SIGTERM, _sigterm)
    return True
