"""celery beat for the hub: `HubScheduler`, django-celery-beat's `DatabaseScheduler`
subclassed where the hub needs it.

- Slots: it sends each schedule's slots from our `Schedule` anchors (the `CeleryBackend`
  heap), with the slot in the message, instead of computing interval runs from
  `last_run_at`.
- Exactly one beat: a `SchedulerRunner` in a thread of beat holds the scheduler lock, the
  same one the APScheduler engine uses. Without it, beat sends nothing and stands by, so
  two `runscheduler`s, or several workers started with `-B`, never both send.
- Changes: the runner follows the change counter (woken by NOTIFY on PostgreSQL) and
  reconciles only the rows that changed, instead of polling `PeriodicTasks` every 5 s and
  reloading every entry on each change.
- Sending: one producer connection, bounded connection attempts; a send that fails
  (Redis down) is kept and sent again when the broker is back.
"""

from __future__ import annotations

import logging
import signal
import threading

from celery import current_app
from celery.apps.beat import Beat
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django_celery_beat.schedulers import DatabaseScheduler
from kombu.utils.objects import cached_property

from ...engine.runner import SchedulerRunner
from ...runs.connections import close_stale_connections
from ...runs.continuity import record_dropped
from .. import get_backend_class
from .tasks import RUN_TASK

logger = logging.getLogger("scheduler")

# Longest sleep between ticks (seconds): a schedule changed to fire sooner is picked up
# within this, and it bounds how long a stopping beat takes to notice.
MAX_TICK = 0.25
# Wait before sending again after the broker refused a send.
SEND_RETRY = 1.0
# A run's soft time limit is its time budget (every attempt's timeout and the backoffs
# between them) plus SOFT_LIMIT_SLACK; the hard limit, plus HARD_LIMIT_MARGIN. The soft
# limit stops it first and lets the run be recorded as timed out.
SOFT_LIMIT_SLACK = 2
HARD_LIMIT_MARGIN = 30


class HubScheduler(DatabaseScheduler):
    """Beat's scheduler class (`CELERY_BEAT_SCHEDULER`); see the module docstring."""

    def __init__(self, *args, **kwargs):
        self.runner: SchedulerRunner | None = None
        self._broker_down = False
        super().__init__(*args, **kwargs)
        self.max_interval = min(self.max_interval, MAX_TICK)

    def setup_schedule(self) -> None:
        """Start the runner instead of loading `PeriodicTask` rows and default entries:
        `Schedule` is the source of truth."""
        backend_class = get_backend_class()
        if backend_class.runs_in_web:
            raise ImproperlyConfigured(
                "celery beat runs the hub's jobs only with SCHEDULER_BACKEND=celery "
                f"(it is {settings.SCHEDULER_BACKEND!r})"
            )
        self.runner = SchedulerRunner(backend_class)
        threading.Thread(target=self.runner.run, name="scheduler", daemon=True).start()

    @property
    def schedule(self) -> dict:
        return {}  # beat's entries are not used: see `tick`

    @property
    def info(self) -> str:
        return "    . hub scheduler -> Schedule rows, one beat at a time (scheduler lock)"

    def tick(self, *args, **kwargs) -> float:
        """Send every slot now due; return how long beat may sleep."""
        backend = self.runner.backend if self.runner else None
        if backend is None:
            return MAX_TICK  # standing by: another process holds the lock
        dispatches, dropped = backend.take_due(timezone.now())
        if dropped:
            # Beat's thread uses its connection only now and then, so it may have died
            # unnoticed with the server (a restart): check it first, or the missed record
            # is lost with it.
            close_stale_connections()
        for job_id, timing, slots in dropped:
            reason = f"coalesced: {len(slots)} slot(s) due at once, only the latest ran"
            record_dropped(job_id, timing, slots, reason)
        if dispatches:
            if not backend.guard():
                logger.warning("Not sending: the scheduler lock is no longer ours")
                return MAX_TICK
            unsent = self.send(dispatches)
            backend.sent(dispatches[: len(dispatches) - len(unsent)])
            if unsent:
                backend.unsent(unsent)
                return SEND_RETRY
        return min(backend.seconds_until_due(timezone.now()), MAX_TICK)

    def send(self, dispatches: list) -> list:
        """Publish one message per dispatch; return those not sent (the broker failed)."""
        for index, dispatch in enumerate(dispatches):
            try:
                self.app.send_task(
                    RUN_TASK,
                    args=[dispatch.job_id, dispatch.slot.isoformat()],
                    queue=dispatch.queue,
                    # A little over the run's own budget, so that an async task's own
                    # timeout (the same figure) fires first and cancels it cleanly.
                    soft_time_limit=dispatch.budget + SOFT_LIMIT_SLACK,
                    time_limit=dispatch.budget + HARD_LIMIT_MARGIN,
                    producer=self.producer,
                    retry=False,
                )
            except Exception as exc:
                if not self._broker_down:
                    logger.error(
                        "Broker unreachable, %d run(s) waiting to be sent; retrying every "
                        "%.0fs: %s",
                        len(dispatches) - index,
                        SEND_RETRY,
                        exc,
                    )
                self._broker_down = True
                self._drop_connection()
                return dispatches[index:]
        if self._broker_down:
            logger.warning("Broker reachable again; sending resumed")
            self._broker_down = False
        return []

    @cached_property
    def producer(self):
        """One producer on one connection, opened with a bounded number of attempts (the
        stock one retries for minutes before beat can do anything else)."""
        connection = self.app.connection_for_write()
        self.__dict__["connection"] = connection
        connection.ensure_connection(max_retries=1, timeout=settings.REDIS_TIMEOUT)
        return self.Producer(connection, auto_declare=False)

    def _drop_connection(self) -> None:
        self.__dict__.pop("producer", None)
        connection = self.__dict__.pop("connection", None)
        if connection is not None:
            try:
                connection.release()
            except Exception:
                logger.debug("Releasing the broker connection failed", exc_info=True)

    def sync(self) -> None:
        """Nothing of beat's own to save: sends are counted by the runner's bookkeeping."""

    def close(self) -> None:
        """Stop the runner (releasing the lock) before beat closes its connection."""
        if self.runner is not None:
            self.runner.stop(settings.SCHEDULER_SHUTDOWN_GRACE)
            self.runner = None
        self._drop_connection()


def run_beat(quiet: bool = False) -> None:
    """Run celery beat with `HubScheduler` in this process until SIGTERM or SIGINT
    (`manage.py runscheduler` on the Celery backend)."""

    class HubBeat(Beat):
        def install_sync_handler(self, service) -> None:
            """Stock beat closes the scheduler inside the signal handler, which can
            interrupt a tick holding a lock or a query; here the signal only asks the
            loop to stop, and it closes the scheduler itself within one tick."""

            def stop(signum, frame) -> None:
                service.stop()

            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)

    HubBeat(
        app=current_app,
        scheduler=settings.CELERY_BEAT_SCHEDULER,
        loglevel=settings.LOG_LEVEL,
        no_color=True,
        quiet=quiet,
    ).run()
