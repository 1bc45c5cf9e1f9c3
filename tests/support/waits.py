"""Bounded waits, and code run in threads (a race between claimers)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from django.db import connections


def wait_until(condition: Callable[[], object], timeout: float, what: str, every: float = 0.05):
    """Poll `condition` until it returns something truthy (returned), or fail after
    `timeout` seconds naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def in_thread(func: Callable, *args, **kwargs) -> threading.Thread:
    """Start `func` in a thread that closes its own database connection when done (a
    connection left open keeps PostgreSQL from dropping the test database)."""

    def target():
        try:
            func(*args, **kwargs)
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def race(func: Callable, times: int = 2, timeout: float = 10) -> list:
    """Call `func()` from `times` threads released at the same moment; return what each
    returned (in finishing order). For the tests where the second claimer must lose."""
    barrier = threading.Barrier(times)
    results = []

    def contender():
        barrier.wait(timeout)
        results.append(func())

    threads = [in_thread(contender) for _ in range(times)]
    for thread in threads:
        thread.join(timeout)
    return results
