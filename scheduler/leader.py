"""The scheduler lock: however many processes could run the scheduler, one does.

This release locks per machine with `flock` on a file — beside the SQLite database, or in
the temporary folder keyed by the PostgreSQL database — so the workers of one gunicorn, or
two `runscheduler` on one host, run one scheduler between them. The operating system drops
the lock the moment its holder dies, and a standby takes over within a second.
Across machines (several dynos on PostgreSQL) a database lock is needed; see README.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from pathlib import Path

from django.db import connection

from .claims import owner_name


def lock_path() -> Path:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return Path(f"{db['NAME']}.scheduler.lock")
    key = f"{db.get('HOST')}:{db.get('PORT')}/{db['NAME']}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"altar-scheduler-{digest}.lock"


class FileLock:
    """An exclusive, non-blocking `flock`; the file holds the holder's `host:pid`."""

    def __init__(self, path: Path | None = None):
        self.path = path or lock_path()
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, owner_name().encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
