"""Live sessions (seed 004, "meter at stop"): durable start / heartbeat / stop, a reaper, a display.

:mod:`.core` is pure (states, ceil-to-seconds durations, the pre-start rule, the display numbers);
:mod:`.service` keeps sessions in the Store's database and meters them through the policy engine;
:mod:`.dashboard_provider` shows them in the web dashboard.
"""

from .core import NO_ACCESS, QUOTA_EXHAUSTED, Display, Session, billable_seconds
from .service import ReapResult, SessionNotRunning, SessionService, StartResult, StopResult, reap_all

__all__ = [
    "NO_ACCESS",
    "QUOTA_EXHAUSTED",
    "Display",
    "ReapResult",
    "Session",
    "SessionNotRunning",
    "SessionService",
    "StartResult",
    "StopResult",
    "billable_seconds",
    "reap_all",
]
