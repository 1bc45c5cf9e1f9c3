"""The Celery backend's Redis broker: is it there, and which run messages still wait in it.

A plain Redis client with a short timeout on the socket and no retry, not the broker
transport's client: that one waits its 10 s socket timeout and then retries, so against a
paused Redis (`CLIENT PAUSE`) `/healthz` waited the whole pause and then said "broker ok".
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime

import redis
from django.conf import settings
from kombu.transport.redis import PRIORITY_STEPS
from redis.backoff import NoBackoff
from redis.retry import Retry

from .tasks import RUN_TASK

logger = logging.getLogger("scheduler")


def client(timeout: float) -> redis.Redis:
    """A plain client of the broker's Redis, `timeout` seconds on the socket, no retry."""
    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        **(settings.CELERY_BROKER_USE_SSL or {}),
    )


def status(timeout: float = 3.0) -> tuple[bool, str]:
    """Whether Redis answers within `timeout` seconds. The message never contains the
    broker URL (it may hold a password)."""
    if not settings.CELERY_BROKER_URL:
        return False, "no broker: REDIS_URL is not set"
    connection = client(timeout)
    try:
        connection.ping()
    except Exception as exc:
        return False, f"broker unreachable: {type(exc).__name__}"
    finally:
        connection.close()
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
    killed (SIGKILL, a crash) right after a send leaves the last sends unrecorded, and
    its successor would take slots whose messages are still queued for unsent: it would
    record them missed, and a worker would run them anyway. Read from the broker itself,
    they count as sent.

    The lists and the unacked hash are read in one MULTI/EXEC, so a message a worker hands
    back meanwhile is not missed between the two reads; only the newest
    `WAITING_READ_LIMIT` messages of each list are read (kombu pushes at the head). {} when
    Redis cannot be read: the bookkeeping alone then says what was sent."""
    if not settings.CELERY_BROKER_URL:
        return {}
    lists = [
        queue.name + (f"{PRIORITY_SEPARATOR}{step}" if step else "")
        for queue in settings.CELERY_TASK_QUEUES
        for step in PRIORITY_STEPS
    ]
    connection = client(settings.REDIS_TIMEOUT)
    try:
        with connection.pipeline(transaction=True) as snapshot:
            for name in lists:
                snapshot.lrange(name, 0, WAITING_READ_LIMIT - 1)
            snapshot.hvals(UNACKED_KEY)
            *queued, unacked = snapshot.execute()
    except Exception as exc:
        logger.warning("Could not read the runs waiting in the broker: %s", type(exc).__name__)
        return {}
    finally:
        connection.close()
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
