"""The lateness watch: the lock holder marks jobs late, or on time again, every
`SCHEDULER_HEALTH_EVERY` seconds (`runs.health.mark_late`), in a thread of its own: with
ten thousand schedules one look takes most of a second, which the scheduler's loop
(keeping the lock, following changes) must not wait for."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import connections

from ..runs import health

logger = logging.getLogger("scheduler")


class LatenessWatch:
    def __init__(self):
        self.last_look = 0.0
        self._look: threading.Thread | None = None

    def restart(self) -> None:
        """The first look waits a full period: the engine fires what fell due while no
        scheduler ran (or records it missed) before jobs are judged."""
        self.last_look = time.monotonic()

    def tick(self) -> None:
        """Start a look if a period has passed and the last one has finished."""
        if time.monotonic() - self.last_look < settings.SCHEDULER_HEALTH_EVERY:
            return
        if self._look is not None and self._look.is_alive():
            return
        self.last_look = time.monotonic()
        self._look = threading.Thread(target=_look, name="job-health", daemon=True)
        self._look.start()


def _look() -> None:
    """One look for late jobs (idempotent: each change is a conditional update), on its
    own connection, closed afterwards."""
    try:
        health.mark_late()
    except Exception:
        logger.exception("Looking for late jobs failed; trying again next period")
    finally:
        connections.close_all()
