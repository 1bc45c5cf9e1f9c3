"""Real subprocesses (`manage.py runscheduler`, gunicorn, Procfile commands) pointed at the
test database, with a wait for a line of their output."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)


def database_url() -> str:
    """A DATABASE_URL for the database the tests run on, for subprocesses to use."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DATABASE_URL=database_url(),
        DJANGO_SETTINGS_MODULE="altar.settings",
        SECRET_KEY=settings.SECRET_KEY,
        SCHEDULER_AUTOSTART="false",
        SECURE_SSL_REDIRECT="false",  # plain http on loopback, no proxy in front
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Process:
    """A real process whose combined output is collected line by line, so a test can wait
    (bounded) for a log line instead of sleeping."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None):
        self.args = args
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(
            args,
            cwd=BASE_DIR,
            env=env or subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float = 20, start: int = 0) -> re.Match:
        """Wait for a line matching `pattern` (from line index `start`); fail with the output
        so far after `timeout` seconds, or at once if the process exits first."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = start
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if match := regex.search(line):
                        return match
                seen = len(self.lines)
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(
                        f"{' '.join(self.args)} exited ({self.proc.returncode}) before "
                        f"printing {pattern!r}:\n{self.output}"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for {pattern!r}:\n{self.output}"
                    )
                self._changed.wait(min(left, 0.5))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send `sig` and wait (bounded) for exit; kill the whole group if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._reader.join(5)
        return self.proc.returncode


def procfile_command(process_type: str) -> list[str]:
    """The Procfile's command for `process_type`, as arguments; leading `VAR=value`
    assignments go through `env`, which then becomes the command itself."""

    for line in (BASE_DIR / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process_type:
            args = shlex.split(command)
            return ["env", *args] if "=" in args[0] else args
    raise KeyError(f"no {process_type!r} process type in the Procfile")


def manage(*args: str, env: dict[str, str] | None = None) -> Process:
    """Start `manage.py <args>` against the test database."""
    return Process([sys.executable, "manage.py", *args], env=env)
