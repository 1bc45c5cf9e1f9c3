"""What every benchmark sets up: a scratch database with Django on it, and the scheduler
engine it measures, on either backend.

`apscheduler`: one `manage.py runscheduler`. `celery`: a private `redis-server` on a free
port, a prefork `celery -A altar worker` and `manage.py runscheduler` (celery beat).
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def fresh_postgres(url: str) -> None:
    """Drop and create the database of `url`."""
    import psycopg2

    base, name = url.rsplit("/", 1)
    conn = psycopg2.connect(f"{base}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def django_on(database_url: str, log_level: str = "WARNING", **env: str) -> str:
    """Point this process (and the processes it starts) at a scratch database — a new
    SQLite file when `database_url` is empty, else that PostgreSQL database dropped and
    created afresh — migrate it and set Django up. Returns the URL."""
    url = database_url or f"sqlite:///{tempfile.mkdtemp(prefix='altar-bench-')}/bench.sqlite3"
    if url.startswith("postgres"):
        fresh_postgres(url)
    os.environ.update(DATABASE_URL=url, SCHEDULER_AUTOSTART="false", LOG_LEVEL=log_level, **env)
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    os.environ["DJANGO_SETTINGS_MODULE"] = "altar.settings"
    os.environ["SCHEDULER_DIAGNOSTIC_TASKS"] = "true"  # the benchmarks schedule `probe`
    sys.path.insert(0, str(ROOT))
    manage = [sys.executable, "manage.py", "migrate", "--noinput", "-v0"]
    subprocess.run(manage, cwd=ROOT, check=True)
    import django

    django.setup()
    return url


def on_sqlite_and_postgres(script: str, postgres_url: str, *args: str) -> list:
    """Run benchmark `script` again on a scratch SQLite file and on `postgres_url` (each
    in its own process: the settings read DATABASE_URL once); return both JSON results."""
    results = []
    for url in ("", postgres_url):
        command = [sys.executable, script, "--database-url", url, *args]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(output))
    return results


def backend_env(backend: str, redis_url: str = "") -> dict[str, str]:
    """The environment variables that select `backend` (for this process and children)."""
    if backend == "celery":
        return {"SCHEDULER_BACKEND": "celery", "REDIS_URL": redis_url}
    return {"SCHEDULER_BACKEND": "apscheduler"}


@contextmanager
def redis_for(backend: str):
    """A private `redis-server` on a free port for the celery backend (its URL; None for
    the other backend), stopped afterwards. Started before Django is set up, since the
    settings read REDIS_URL."""
    if backend != "celery":
        yield None
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True
            ).stdout.strip()
            != "PONG"
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start within 10 s")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


@contextmanager
def engine(backend: str, env: dict[str, str], concurrency: int = 2):
    """Yield {"scheduler": process} or {"beat": process, "worker": process}, stopped at
    the end. The scheduler (or beat) is started last, once the worker is ready."""
    from tests import support

    processes = {}
    try:
        if backend == "celery":
            processes["worker"] = support.celery_worker(env, concurrency=concurrency)
            processes["beat"] = support.manage("runscheduler", env=env)
        else:
            processes["scheduler"] = support.manage("runscheduler", env=env)
        yield processes
    finally:
        for process in reversed(list(processes.values())):
            process.stop()


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (a prefork worker's pool)."""
    pids = [pid]
    for child in _children(pid):
        pids += process_tree(child)
    return pids


def _children(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            children += [int(c) for c in (task / "children").read_text().split()]
    return children


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used by `pid` and its live descendants."""
    total = 0.0
    for each in process_tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of `pid` plus that of its live descendants, in MB."""
    total = 0
    for each in process_tree(pid):
        try:
            lines = Path(f"/proc/{each}/status").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in lines if line.startswith("VmHWM:"))
    return round(total / 1024, 1)
