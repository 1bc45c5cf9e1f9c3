"""Who owns a claim, and whether that owner is alive.

Every claim carries its owner's `host:pid` and a heartbeat. Each process that runs jobs
(the scheduler, each Celery worker process) stamps the claims it is executing every
`SCHEDULER_HEARTBEAT_SECONDS` (5 s); a claim is stale after `MISSED_BEATS` missed beats.
An owner is dead when its claim is stale, or at once when it is a process of this host
that no longer exists (a Celery worker child killed mid-run, a scheduler restarted after
SIGKILL), so a successor need not wait out the beats.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from contextlib import contextmanager
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from ..models import JobRun, stale_after

logger = logging.getLogger("scheduler")


def owner_name() -> str:
    """`host:pid`, the owner written on every claim this process makes."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_dead(owner: str, heartbeat_at: datetime | None, now: datetime) -> bool:
    """Whether the owner of a running claim is dead (see the module docstring)."""
    if heartbeat_at and heartbeat_at < now - stale_after():
        return True
    name, _, pid = owner.rpartition(":")
    if name != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


# The claims this process is executing right now (run ids). Only these get heartbeats: a
# claim whose run ended without being recorded (its final write failed) must go stale and
# be reaped, not be kept alive for as long as its process lives.
_live: set[int] = set()
_live_lock = threading.Lock()


@contextmanager
def executing(run: JobRun):
    """Mark `run` as executing in this process for the duration of the block."""
    with _live_lock:
        _live.add(run.pk)
    try:
        yield run
    finally:
        with _live_lock:
            _live.discard(run.pk)


def beat(now: datetime | None = None) -> int:
    """Stamp the heartbeat of the claims this process is executing (one UPDATE)."""
    with _live_lock:
        live = list(_live)
    if not live:
        return 0
    return JobRun.objects.filter(pk__in=live, owner=owner_name(), status=JobRun.RUNNING).update(
        heartbeat_at=now or timezone.now()
    )


def stamp_until(stop: threading.Event) -> None:
    """Stamp this process's running claims every `SCHEDULER_HEARTBEAT_SECONDS` until
    `stop` is set, so a live run is never taken for dead (a thread's loop: a Celery
    worker's, or a stopping scheduler's while its last runs finish)."""
    while not stop.wait(settings.SCHEDULER_HEARTBEAT_SECONDS):
        try:
            close_old_connections()
            beat()
        except DatabaseError as exc:
            logger.warning("Could not stamp running claims, retrying: %s", exc)
        except Exception:
            logger.exception("Could not stamp running claims, retrying")
    connection.close()
