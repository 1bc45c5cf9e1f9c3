"""The Celery engine: each enabled schedule's next slot on a heap, sent by celery beat.

It runs inside beat (`celery_beat.HubScheduler`), under the same `SchedulerRunner` as the
APScheduler engine: the runner's bookkeeping thread holds the scheduler lock, follows
changes (`reconcile`), stamps and reaps claims; beat's own loop calls `take_due` every tick
and sends one `scheduler.run_job` message per slot. Workers run the slot through the one
execution path, which claims and records it.

Slots come from our `Schedule` anchors (`scheduler.slots`), never from a `last_run_at`:
stock beat computes interval runs from the last send time, saved only now and then, so
a restart moves the grid and can send a slot twice or skip one.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from .. import claims
from ..continuity import resume_points
from ..models import Schedule
from ..slots import Timing
from . import beat_projection
from .base import ReconcilingBackend

logger = logging.getLogger("scheduler")

# How often (seconds) send counts are written to the projected `PeriodicTask` rows.
BOOKKEEPING_EVERY = 5.0


@dataclass
class Entry:
    """What beat needs to send a job's slots, and the next one it will send."""

    timing: Timing
    queue: str
    budget: int
    generation: int
    next_slot: datetime | None


@dataclass(frozen=True)
class Dispatch:
    """One message to send: run `slot` of `job_id` on `queue`, stopped after `budget`
    seconds (every attempt's timeout and the backoffs between them)."""

    job_id: str
    slot: datetime
    queue: str
    budget: int


class CeleryBackend(ReconcilingBackend):
    name = "celery"
    # A new queue, timeout or retry policy changes the messages, so it re-registers the
    # job (keeping its next slot: see `add_job`).
    JOB_FIELDS = (
        "misfire_grace_seconds",
        "queue",
        "timeout_seconds",
        "max_attempts",
        "retry_backoff_seconds",
    )

    def __init__(self, guard=None):
        super().__init__(guard)
        self._entries: dict[str, Entry] = {}
        # (next slot, generation, job id); an item whose generation is no longer its
        # entry's was replaced or removed, and is skipped when it comes up.
        self._heap: list[tuple[datetime, int, str]] = []
        # Sent before anything else at the next tick: redeliveries, and sends that failed.
        self._outbox: list[Dispatch] = []
        # Re-entrant: `celery beat`'s own SIGTERM handler closes the scheduler on the main
        # thread, possibly while that thread is inside `take_due`.
        self._lock = threading.RLock()
        self._generations = itertools.count()
        self._sent: Counter[str] = Counter()
        self._last_sent: dict[str, datetime] = {}
        self._recorded_at = 0.0
        self.firing = False

    def start(self) -> None:
        """Project every schedule into django-celery-beat's table (rows written while
        another backend ran were not), then load each job at its resume point."""
        beat_projection.sync_all()
        sent = beat_projection.last_sent()
        for job_id, slot in waiting_in_broker().items():
            if job_id not in sent or slot > sent[job_id]:
                sent[job_id] = slot
        resume = resume_points(timezone.now(), sent)
        self.reconcile(full=True, resume=resume)
        self.firing = True
        logger.info("Background scheduler started, backend=%s", self.name)

    def add_job(self, schedule: Schedule, timing: Timing, next_run: datetime | None) -> None:
        """Add or replace a job. A job re-registered on the same grid (a new queue or
        timeout) keeps its next slot: the slots already sent may still be queued, and
        starting again from the run history would count them as missed."""
        budget = claims.time_budget(
            schedule.timeout_seconds, schedule.max_attempts, schedule.retry_backoff_seconds
        )
        with self._lock:
            old = self._entries.get(schedule.job_id)
            if old is not None and old.timing == timing and old.next_slot is not None:
                next_run = old.next_slot
            generation = next(self._generations)
            self._entries[schedule.job_id] = Entry(
                timing, schedule.queue, budget, generation, next_run
            )
            if next_run is not None:
                heapq.heappush(self._heap, (next_run, generation, schedule.job_id))

    def remove_job(self, job_id: str) -> None:
        with self._lock:
            self._entries.pop(job_id, None)

    def take_due(self, now: datetime) -> tuple[list[Dispatch], list[tuple[str, Timing, list]]]:
        """Everything to send now, and the slots dropped by coalescing.

        Each job's latest due slot is sent; if several were due at once (beat was held up),
        the older ones are returned as dropped, for the caller to record as one missed
        range — the guide's `coalesce=True`, with nothing dropped silently.
        """
        dropped: list[tuple[str, Timing, list]] = []
        with self._lock:
            if not self.firing:
                return [], []
            waiting, self._outbox = self._outbox, []
            latest: dict[str, Dispatch] = {}
            while self._heap and self._heap[0][0] <= now:
                slot, generation, job_id = heapq.heappop(self._heap)
                entry = self._entries.get(job_id)
                if entry is None or entry.generation != generation:
                    continue
                due = [slot]
                following = entry.timing.next_slot(slot)
                while following is not None and following <= now:
                    due.append(following)
                    following = entry.timing.next_slot(following)
                entry.next_slot = following
                if following is not None:
                    heapq.heappush(self._heap, (following, generation, job_id))
                if len(due) > 1:
                    dropped.append((job_id, entry.timing, due[:-1]))
                latest[job_id] = Dispatch(job_id, due[-1], entry.queue, entry.budget)
            # A slot still unsent from before (the broker was down) gives way to a newer
            # one of the same job: coalesced, so an outage cannot pile up messages.
            dispatches = []
            for dispatch in waiting:
                newer = latest.get(dispatch.job_id)
                entry = self._entries.get(dispatch.job_id)
                if newer is not None and newer.slot > dispatch.slot and entry is not None:
                    dropped.append((dispatch.job_id, entry.timing, [dispatch.slot]))
                else:
                    dispatches.append(dispatch)
            dispatches += latest.values()
        return dispatches, dropped

    def seconds_until_due(self, now: datetime) -> float:
        with self._lock:
            if self._outbox:
                return 0.0
            if not self._heap:
                return float("inf")
            return max(0.0, (self._heap[0][0] - now).total_seconds())

    def sent(self, dispatches: list[Dispatch]) -> None:
        """Count what was sent, for the bookkeeping columns of the projected rows."""
        with self._lock:
            for dispatch in dispatches:
                self._sent[dispatch.job_id] += 1
                self._last_sent[dispatch.job_id] = dispatch.slot

    def unsent(self, dispatches: list[Dispatch]) -> None:
        """Sends that failed (the broker is down): first in line at the next tick. A slot
        that gets there past its grace is recorded missed by the worker."""
        with self._lock:
            if self.firing:
                self._outbox[:0] = dispatches

    def redeliver(self, job_id: str, slot: datetime) -> None:
        """Queue (job, slot) for the next send; refused (raises) when this beat no longer
        fires, and dropped with a warning when the job is no longer scheduled."""
        with self._lock:
            if not self.firing:
                raise RuntimeError("this beat no longer fires (the scheduler lock was lost)")
            entry = self._entries.get(job_id)
            if entry is None:
                logger.warning(
                    "Not sending %s slot %s: the job is no longer scheduled", job_id, slot
                )
                return
            self._outbox.append(Dispatch(job_id, slot, entry.queue, entry.budget))

    def housekeeping(self, force: bool = False) -> None:
        """Write the send counts into django-celery-beat's bookkeeping columns, every few
        seconds (the runner calls this several times a second)."""
        if not force and time.monotonic() - self._recorded_at < BOOKKEEPING_EVERY:
            return
        self._recorded_at = time.monotonic()
        with self._lock:
            sent, self._sent = self._sent, Counter()
            last, self._last_sent = self._last_sent, {}
        if sent:
            beat_projection.record_sends(sent, last)

    def stop_firing(self) -> None:
        with self._lock:
            self.firing = False
            self._heap.clear()
            self._outbox.clear()

    def hand_over(self) -> None:
        self.stop_firing()
        self.housekeeping(force=True)

    def shutdown(self, grace: float) -> int:
        """Stop sending. Runs happen on the workers, which finish or redeliver them."""
        self.hand_over()
        return 0

    @staticmethod
    def redis_client(timeout: float):
        """A plain client of the broker's Redis, `timeout` seconds on the socket, no retry."""
        import redis
        from django.conf import settings
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return redis.Redis.from_url(
            settings.CELERY_BROKER_URL,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            **(settings.CELERY_BROKER_USE_SSL or {}),
        )

    @classmethod
    def broker_status(cls, timeout: float = 3.0) -> tuple[bool, str]:
        """Whether Redis answers within `timeout` seconds. The message never contains the
        broker URL (it may hold a password).

        A plain Redis client with `timeout` on the socket and no retry, not the broker
        transport's client: that one waits its 10 s socket timeout and then retries, so
        against a paused Redis (`CLIENT PAUSE`) `/healthz` waited the whole pause (25 s
        in the fault suite) and then said "broker ok"."""
        from django.conf import settings

        if not settings.CELERY_BROKER_URL:
            return False, "no broker: REDIS_URL is not set"
        client = cls.redis_client(timeout)
        try:
            client.ping()
        except Exception as exc:
            return False, f"broker unreachable: {type(exc).__name__}"
        finally:
            client.close()
        return True, "broker ok"


# Kombu's Redis transport: where messages delivered to a worker wait for their ack, and
# how it names a queue's priority lists.
UNACKED_KEY = "unacked"
PRIORITY_SEPARATOR = "\x06\x16"
# Beat reads at most this many of the newest messages per queue list at start: a backlog
# left by a long worker outage must not fill beat's memory.
WAITING_READ_LIMIT = 10_000


def waiting_in_broker() -> dict[str, datetime]:
    """The latest slot of each job whose run message still waits in Redis: in a queue, or
    delivered to a worker and not yet acknowledged.

    Beat writes what it sent to the database every `BOOKKEEPING_EVERY` seconds; a beat
    killed (SIGKILL, a crash) right after a send leaves the last sends unrecorded. Its
    successor then took slots whose messages were still queued for unsent: it recorded
    them missed, and the worker later ran all but the first of them anyway (the fault
    suite's fault 9). Read from the broker itself, they count as sent.

    The lists and the unacked hash are read in one MULTI/EXEC, so a message a worker hands
    back meanwhile is not missed between the two reads; only the newest
    `WAITING_READ_LIMIT` messages of each list are read (kombu pushes at the head). {} when
    Redis cannot be read: the bookkeeping alone, as before."""
    from django.conf import settings
    from kombu.transport.redis import PRIORITY_STEPS

    if not settings.CELERY_BROKER_URL:
        return {}
    lists = [
        queue.name + (f"{PRIORITY_SEPARATOR}{step}" if step else "")
        for queue in settings.CELERY_TASK_QUEUES
        for step in PRIORITY_STEPS
    ]
    client = CeleryBackend.redis_client(settings.REDIS_TIMEOUT)
    try:
        with client.pipeline(transaction=True) as snapshot:
            for name in lists:
                snapshot.lrange(name, 0, WAITING_READ_LIMIT - 1)
            snapshot.hvals(UNACKED_KEY)
            *queued, unacked = snapshot.execute()
    except Exception as exc:
        logger.warning("Could not read the runs waiting in the broker: %s", type(exc).__name__)
        return {}
    finally:
        client.close()
    found = [run_in_message(raw) for entries in queued for raw in entries]
    found += [run_in_message(raw, unacked=True) for raw in unacked]
    latest: dict[str, datetime] = {}
    for job_id, slot in filter(None, found):
        if job_id not in latest or slot > latest[job_id]:
            latest[job_id] = slot
    return latest


def run_in_message(raw: bytes, unacked: bool = False) -> tuple[str, datetime] | None:
    """(job id, slot) of a run message as kombu keeps it in Redis (an unacked entry is
    [message, exchange, routing key]); None for another task's message or a malformed one,
    which the bookkeeping then covers."""
    import base64
    import json

    from .celery_beat import RUN_TASK

    try:
        message = json.loads(raw)
        if unacked:
            message = message[0]
        if message.get("headers", {}).get("task") != RUN_TASK:
            return None
        job_id, slot = json.loads(base64.b64decode(message["body"]))[0][:2]
        return job_id, datetime.fromisoformat(slot)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None
