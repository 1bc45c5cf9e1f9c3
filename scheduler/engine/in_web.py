"""The scheduler inside a web process (the guide's "tutto nel web dyno"): every gunicorn
worker starts a runner in a daemon thread; the scheduler lock lets one of them fire and
the others stand by. Started by `altar/wsgi.py` through `scheduler.backends`, stopped by
gunicorn's `worker_exit` hook."""

from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import TYPE_CHECKING

from django.conf import settings

from .runner import SchedulerRunner

if TYPE_CHECKING:
    from ..backends.base import SchedulerBackend

logger = logging.getLogger("scheduler")

_in_web: SchedulerRunner | None = None


def start(backend_class: type[SchedulerBackend]) -> SchedulerRunner:
    """Start this process's runner, once."""
    global _in_web
    if _in_web is None:
        runner = SchedulerRunner(backend_class)
        threading.Thread(target=runner.run, name="scheduler", daemon=True).start()
        atexit.register(stop)
        _in_web = runner
    return _in_web


def stop() -> None:
    """Stop the in-web scheduler within `SCHEDULER_SHUTDOWN_GRACE` (gunicorn's
    `worker_exit` hook calls this before the interpreter starts joining threads)."""
    global _in_web
    if _in_web is None:
        return
    interrupted = _in_web.stop(settings.SCHEDULER_SHUTDOWN_GRACE)
    _in_web = None
    # Said either way, so Ctrl-C on `make run` (or a dyno's stop) ends with what happened
    # to the running jobs.
    logger.info("Scheduler stopped; %d run(s) cut and recorded as interrupted", interrupted)
    if interrupted:
        # The cut runs are recorded; their threads cannot be stopped and would keep this
        # worker alive until gunicorn kills it (28 s, close to Heroku's 30): leave now,
        # as `runscheduler` does.
        logging.shutdown()
        os._exit(0)
