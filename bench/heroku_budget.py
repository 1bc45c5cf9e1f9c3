"""The Heroku connection budget and an idle hub's Redis traffic, measured.

Starts the Procfile's process types the way Heroku would (one dyno of each, `DYNO` set,
production settings) on a scratch PostgreSQL database and a private redis-server, keeps
the scheduler busy with BUSY one-second probe jobs that sleep half a second (so the job
threads are all in use), and samples `pg_stat_activity` every 0.2 s: the most PostgreSQL
connections each dyno held at once. Then, on the Celery backend, it removes every job
and counts the Redis commands the idle hub sends in IDLE seconds. Prints JSON.

    .venv/bin/python bench/heroku_budget.py \\
        [--database-url postgres://postgres@127.0.0.1:5432/altar_bench_budget] \\
        [--busy 40] [--window 30] [--idle 60]
"""

import argparse
import http.cookiejar
import json
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engines import django_on, redis_for  # noqa: E402

HEROKU_ESSENTIAL_0_CONNECTIONS = 20
DYNO = re.compile(r"\b(web|worker|scheduler)\.\d+\b")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/altar_bench_budget"
    )
    parser.add_argument("--busy", type=int, default=40, help="one-second probe jobs")
    parser.add_argument("--window", type=float, default=30, help="seconds sampled per layout")
    parser.add_argument("--idle", type=float, default=60, help="seconds of idle Redis counted")
    args = parser.parse_args()
    with redis_for("celery") as redis_url:
        django_on(args.database_url, "INFO")
        results = {
            "apscheduler": budget("apscheduler", ["web", "scheduler"], redis_url, args),
            "celery": budget("celery", ["web", "worker", "scheduler"], redis_url, args),
            "plan_limit": HEROKU_ESSENTIAL_0_CONNECTIONS,
        }
        results["celery_idle_redis"] = idle_redis(redis_url, args.idle)
    print(json.dumps(results, indent=2))


def dyno_env(backend: str, redis_url: str, dyno: str, port: int) -> dict[str, str]:
    from tests import support

    env = support.subprocess_env(
        SCHEDULER_BACKEND=backend,
        REDIS_URL=redis_url,
        DYNO=dyno,
        PORT=str(port),
        DEBUG="false",
        PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin",
    )
    env.pop("SCHEDULER_AUTOSTART")  # production default: the web dyno schedules (apscheduler)
    return env


def start(backend: str, types: list[str], redis_url: str) -> tuple[list, int]:
    """The Procfile's `types`, one dyno each; returns them and the web dyno's port."""
    from tests import support

    processes, web_port = [], 0
    for process_type in types:
        port = support.free_port()
        web_port = port if process_type == "web" else web_port
        env = dyno_env(backend, redis_url, f"{process_type}.1", port)
        processes.append(support.Process(support.procfile_command(process_type), env=env))
    return processes, web_port


def failed_logins(port: int, stop: threading.Event) -> None:
    """Keep every gunicorn worker serving requests that read the database (a login with a
    wrong password), so their request connections are counted too."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    url = f"http://127.0.0.1:{port}/admin/login/"
    while not stop.is_set():
        try:
            page = opener.open(url, timeout=10).read().decode()
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
            form = urllib.parse.urlencode(
                {"csrfmiddlewaretoken": token, "username": "nobody", "password": "wrong"}
            )
            opener.open(url, data=form.encode(), timeout=10).read()
        except (OSError, TypeError):
            stop.wait(0.5)  # not up yet


def budget(backend: str, types: list[str], redis_url: str, args) -> dict:
    from django.db import connection

    from scheduler.models import ProbeRun, Schedule

    Schedule.objects.all().delete()
    ProbeRun.objects.all().delete()
    for n in range(args.busy):
        Schedule.objects.create(
            job_id=f"probe_{n}", task="probe", interval_seconds=1, kwargs={"sleep": 0.5}
        )
    processes, web_port = start(backend, types, redis_url)
    peak: Counter = Counter()
    peak_total = 0
    stop_traffic = threading.Event()
    traffic = [
        threading.Thread(target=failed_logins, args=(web_port, stop_traffic)) for _ in range(4)
    ]
    for thread in traffic:
        thread.start()
    try:
        deadline = time.monotonic() + args.window
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT application_name FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                names = [row[0] for row in cursor.fetchall()]
            now = Counter(m[1] if (m := DYNO.search(name)) else "other" for name in names)
            for dyno, count in now.items():
                peak[dyno] = max(peak[dyno], count)
            peak_total = max(peak_total, len(names))
            time.sleep(0.2)
        runs = ProbeRun.objects.count()
    finally:
        stop_traffic.set()
        for thread in traffic:
            thread.join(15)
        for process in reversed(processes):
            process.stop(timeout=40)
    return {
        "peak_connections_per_dyno": dict(peak),
        "peak_connections_total": peak_total,
        "probe_runs_in_window": runs,
    }


def idle_redis(redis_url: str, seconds: float) -> dict:
    """Redis commands an idle Celery-backend hub (web, worker with beat) sends."""
    from scheduler.models import Schedule

    Schedule.objects.all().delete()
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    processes, _ = start("celery", ["web", "worker"], redis_url)
    try:
        processes[1].wait_for_line(r"\bready\.", timeout=60)
        time.sleep(10)  # start-up traffic over
        before = commandstats(port)
        time.sleep(seconds)
        after = commandstats(port)
    finally:
        for process in reversed(processes):
            process.stop(timeout=40)
    per_minute = {
        name: round((after[name] - before.get(name, 0)) * 60 / seconds, 1)
        for name in after
        if after[name] != before.get(name, 0)
    }
    return {
        "seconds": seconds,
        "commands_per_minute": per_minute,
        "total_per_minute": round(sum(per_minute.values()), 1),
    }


def commandstats(port: str) -> dict[str, int]:
    out = subprocess.run(
        ["redis-cli", "-p", port, "INFO", "commandstats"], capture_output=True, text=True
    ).stdout
    return {m[1]: int(m[2]) for m in re.finditer(r"cmdstat_(\w+):calls=(\d+)", out)}


if __name__ == "__main__":
    main()
