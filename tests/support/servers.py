"""Private servers a test may stop, pause or restart without touching the shared ones: a
`redis-server` (with a Celery worker beside it) and a PostgreSQL cluster."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg2

from .processes import Process


def free_port() -> int:

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A private `redis-server` on a free port (never the shared one), so a test may stop,
    restart or pause it. Its data persists across a restart (append-only file, synced on
    every write), as a managed Redis's does. With `password`, clients must give it
    (`requirepass`), as on Heroku."""

    def __init__(self, password: str = "", idle_timeout: int = 0):

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


def gunicorn(workers: int, env: dict[str, str] | None = None) -> tuple[Process, str]:
    """The hub under gunicorn (`altar.wsgi`, `workers` workers) on a free loopback port,
    started but not waited for (each caller waits for the line it needs); returns it and
    its base URL."""
    port = free_port()
    args = [sys.executable, "-m", "gunicorn", "altar.wsgi", "-w", str(workers)]
    return Process([*args, "-b", f"127.0.0.1:{port}"], env=env), f"http://127.0.0.1:{port}"


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

        initdb = shutil.which("initdb", path=bin_dir) if bin_dir else shutil.which("initdb")
        if initdb is None:
            raise FileNotFoundError("initdb is not installed (nor on PATH)")
        self.bin_dir = Path(initdb).parent
        self.port = free_port()
        account = None
        if os.geteuid() == 0:
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

        if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
            return "initdb/pg_ctl are not installed (PostgreSQL server binaries)"
        if os.geteuid() == 0:
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
