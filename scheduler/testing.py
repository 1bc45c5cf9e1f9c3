"""Helpers every test of the scheduler uses: the probe-ledger checks, bounded waits, and
real subprocesses (runscheduler, gunicorn) pointed at the test database.

The ledger checks read `ProbeRun`, which has no unique key: a slot executed twice leaves two
rows there, whereas `JobRun`'s unique key would hide it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import connection, connections

from .models import JobRun, ProbeRun, Schedule

BASE_DIR = Path(settings.BASE_DIR)


# --- The ledger ----------------------------------------------------------------------------
def duplicates(job_ids: list[str] | None = None, using: str = "default") -> list[str]:
    """Slots executed more than once: a slot with more than one finished execution, or two
    executions of the same attempt. Empty when every slot ran at most once. `using` names
    the database alias to read (a hub on a private cluster has its own)."""
    rows = ProbeRun.objects.using(using).all()
    if job_ids is not None:
        rows = rows.filter(job_id__in=job_ids)
    finished = Counter()
    attempts = Counter()
    for job_id, slot, attempt, finished_at in rows.values_list(
        "job_id", "scheduled_at", "attempt", "finished_at"
    ):
        attempts[(job_id, slot, attempt)] += 1
        if finished_at is not None:
            finished[(job_id, slot)] += 1
    found = [f"{j} {s.isoformat()}: finished {n} times" for (j, s), n in finished.items() if n > 1]
    found += [
        f"{j} {s.isoformat()}: attempt {a} executed {n} times"
        for (j, s, a), n in attempts.items()
        if n > 1
    ]
    return sorted(found)


def lost(job_id: str, start: datetime, end: datetime, using: str = "default") -> list[datetime]:
    """Slots of `job_id` due in [start, end] that neither executed (a probe row) nor were
    recorded as not run by policy: covered by a `missed` record, or by a `skipped` one
    (the overlap limit) made while an execution of the job was really going on, as the
    ledger shows. A skip with no execution in flight is a claim stuck `running`: lost.
    Empty when nothing was silently dropped."""
    timing = Schedule.objects.using(using).get(job_id=job_id).timing
    executed = set(
        ProbeRun.objects.using(using)
        .filter(job_id=job_id, scheduled_at__range=(start, end))
        .values_list("scheduled_at", flat=True)
    )
    missed = list(
        JobRun.objects.using(using)
        .filter(job_id=job_id, status=JobRun.MISSED)
        .values_list("scheduled_at", "missed_until")
    )
    executions = list(
        ProbeRun.objects.using(using).filter(job_id=job_id).values_list("started_at", "finished_at")
    )
    skipped = {
        slot
        for slot, at in JobRun.objects.using(using)
        .filter(job_id=job_id, status=JobRun.SKIPPED, scheduled_at__range=(start, end))
        .values_list("scheduled_at", "started_at")  # when the skip was decided
        if at is not None
        and any(began <= at and (ended is None or ended >= at) for began, ended in executions)
    }
    gaps = []
    slot = timing.next_slot(start, inclusive=True)
    while slot is not None and slot <= end:
        covered = slot in skipped or any(
            first <= slot <= (until or first) for first, until in missed
        )
        if slot not in executed and not covered:
            gaps.append(slot)
        slot = timing.next_slot(slot)
    return gaps


def tally(job_id: str, start: datetime, end: datetime, using: str = "default") -> dict[str, int]:
    """The fault report's figures for `job_id` over [start, end]: slots due, due slots that
    executed, slots recorded missed or skipped (by policy) without executing, and slots
    lost. An execution off the grid (a Run now) is not a due slot and is not counted."""
    timing = Schedule.objects.using(using).get(job_id=job_id).timing
    executed = set(
        ProbeRun.objects.using(using)
        .filter(job_id=job_id, scheduled_at__range=(start, end))
        .values_list("scheduled_at", flat=True)
    )
    due = []
    slot = timing.next_slot(start, inclusive=True)
    while slot is not None and slot <= end:
        due.append(slot)
        slot = timing.next_slot(slot)
    ran = len(executed.intersection(due))
    gaps = len(lost(job_id, start, end, using))
    return {"expected": len(due), "ran": ran, "missed": len(due) - ran - gaps, "lost": gaps}


def probe_rows(job_ids: list[str]):
    """The probe executions of `job_ids`: one `ProbeRun` row per execution."""
    return ProbeRun.objects.filter(job_id__in=job_ids)


def probe_slots(job_id: str) -> list[datetime]:
    """The slots `job_id` executed, in order: one entry per execution, so a slot executed
    twice shows twice."""
    return list(
        probe_rows([job_id]).order_by("scheduled_at").values_list("scheduled_at", flat=True)
    )


def wait_for_run(job_id: str, slot: datetime, timeout: float = 20, finished: bool = False):
    """Wait (bounded) until `slot` of `job_id` has started executing, or with `finished`
    has finished; return its `ProbeRun` row."""
    rows = probe_rows([job_id]).filter(scheduled_at=slot)
    if finished:
        rows = rows.filter(finished_at__isnull=False)
    return wait_until(
        lambda: rows.first(),
        timeout,
        f"{job_id} slot {slot:%H:%M:%S} to {'run' if finished else 'start'}",
    )


# --- Bounded waits -----------------------------------------------------------------------
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


# --- Subprocesses ---------------------------------------------------------------------------
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
    import shlex

    for line in (BASE_DIR / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process_type:
            args = shlex.split(command)
            return ["env", *args] if "=" in args[0] else args
    raise KeyError(f"no {process_type!r} process type in the Procfile")


def manage(*args: str, env: dict[str, str] | None = None) -> Process:
    """Start `manage.py <args>` against the test database."""
    return Process([sys.executable, "manage.py", *args], env=env)


# --- Redis and Celery processes -----------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A private `redis-server` on a free port (never the shared one), so a test may stop,
    restart or pause it. Its data persists across a restart (append-only file, synced on
    every write), as a managed Redis's does. With `password`, clients must give it
    (`requirepass`), as on Heroku."""

    def __init__(self, password: str = "", idle_timeout: int = 0):
        import tempfile

        self.port = free_port()
        self.password = password
        self.idle_timeout = idle_timeout  # seconds before the server drops an idle client
        auth = f":{password}@" if password else ""
        self.url = f"redis://{auth}127.0.0.1:{self.port}/0"
        self.dir = tempfile.mkdtemp(prefix="altar-redis-")
        self.process: Process | None = None

    def start(self) -> RedisServer:
        self.process = Process(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                self.dir,
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                *(["--requirepass", self.password] if self.password else []),
                "--timeout",
                str(self.idle_timeout),
            ]
        )
        self.process.wait_for_line(r"Ready to accept connections", timeout=10)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop it (SIGTERM: a clean shutdown; SIGKILL: a crash)."""
        if self.process is not None:
            self.process.stop(sig)
            self.process = None

    def remove(self) -> None:
        import shutil

        self.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def auth_args(self) -> list[str]:
        return ["--no-auth-warning", "-a", self.password] if self.password else []

    def cli(self, *args: str) -> str:
        return subprocess.run(
            ["redis-cli", "-p", str(self.port), *self.auth_args(), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()


def celery_worker(env: dict[str, str], concurrency: int = 2, name: str = "w1") -> Process:
    """A real `celery -A altar worker` (prefork) on the test database, started and ready."""
    worker = Process(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "altar",
            "worker",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",  # its "ready." line is how callers know it consumes
            "--hostname",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
        ],
        env=env,
    )
    worker.wait_for_line(r"\bready\.", timeout=60)
    return worker


# --- A private PostgreSQL cluster -----------------------------------------------------------
class PrivatePostgres:
    """A private PostgreSQL cluster (`initdb` into a temporary folder, its own free port,
    trust authentication on loopback), so a test may restart or stop it without touching
    the shared server. Its superuser is `postgres`; `url(name)` is a DATABASE_URL.

    PostgreSQL refuses to run as root: when the tests do (a CI container), `initdb` and
    `pg_ctl` run as the unprivileged `postgres` account (`runuser -u postgres`), which
    owns the folder. The tests still connect over TCP, so nothing else changes.
    """

    USER = "postgres"

    def __init__(self, bin_dir: str | None = None):
        import shutil
        import tempfile

        initdb = shutil.which("initdb", path=bin_dir) if bin_dir else shutil.which("initdb")
        if initdb is None:
            raise FileNotFoundError("initdb is not installed (nor on PATH)")
        self.bin_dir = Path(initdb).parent
        self.port = free_port()
        account = None
        if os.geteuid() == 0:
            import pwd

            account = pwd.getpwnam(self.USER)  # KeyError: no such account to run as
        self.dir = Path(tempfile.mkdtemp(prefix="altar-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self._as = []
        if account is not None:
            os.chown(self.dir, account.pw_uid, account.pw_gid)
            self._as = ["runuser", "-u", self.USER, "--"]

    @staticmethod
    def available() -> str:
        """Why a private cluster cannot be made here, or "" when it can."""
        import shutil

        if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
            return "initdb/pg_ctl are not installed (PostgreSQL server binaries)"
        if os.geteuid() == 0:
            import pwd

            try:
                pwd.getpwnam(PrivatePostgres.USER)
            except KeyError:
                return "running as root and there is no `postgres` account to run initdb as"
            if shutil.which("runuser") is None:
                return "running as root and `runuser` is missing"
        return ""

    def _run(self, *args: str, timeout: float = 60) -> str:
        result = subprocess.run(
            [*self._as, str(self.bin_dir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.dir,
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed:\n{result.stderr}{result.stdout}{log}")
        return result.stdout

    def start(self) -> PrivatePostgres:
        """`initdb` (once), then start the server and wait until it accepts connections."""
        if not (self.data / "PG_VERSION").exists():
            self._run(
                "initdb", "-D", str(self.data), "-U", self.USER, "--auth=trust", "--no-sync",
                "-E", "UTF8", "--locale=C",
            )  # fmt: skip
        self._pg_ctl("start")
        return self

    def _pg_ctl(self, action: str, *extra: str) -> None:
        # fsync off: the cluster is thrown away; a clean restart loses nothing either way.
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200"
        )
        self._run(
            "pg_ctl", action, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
            "-t", "60", *extra,
        )  # fmt: skip

    def restart(self, mode: str = "fast") -> None:
        """`pg_ctl restart -m <mode>`: every session is cut, the server is back on the
        same port when this returns."""
        self._pg_ctl("restart", "-m", mode)

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", mode)

    def remove(self) -> None:
        """Stop the server (SIGKILL to the postmaster if `pg_ctl` cannot) and delete the
        folder: nothing is left running or on disk, whatever state a test left it in."""
        import shutil

        try:
            self.stop("immediate")
        except (RuntimeError, subprocess.TimeoutExpired):
            with contextlib.suppress(OSError, ValueError, IndexError):
                pid = int((self.data / "postmaster.pid").read_text().split()[0])
                os.kill(pid, signal.SIGKILL)  # its backends exit once the postmaster is gone
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, name: str = "postgres") -> str:
        return f"postgres://{self.USER}@127.0.0.1:{self.port}/{name}"

    def connect(self, name: str = "postgres"):
        """A psycopg2 connection (autocommit) as the superuser."""
        import psycopg2

        conn = psycopg2.connect(
            dbname=name, user=self.USER, host="127.0.0.1", port=self.port, connect_timeout=5
        )
        conn.autocommit = True
        return conn

    def execute(self, sql: str, params=(), name: str = "postgres") -> list[tuple]:
        """Run one statement on a connection of its own; return its rows (if any)."""
        conn = self.connect(name)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        finally:
            conn.close()

    def createdb(self, name: str, template: str = "template1") -> str:
        """CREATE DATABASE `name` (a copy of `template`); returns its DATABASE_URL."""
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)
