"""Scheduler load: N probe schedules every T seconds, run by a real scheduler.

Creates the probes with `manage.py probe`, starts the engine (`--backend apscheduler`: one
`manage.py runscheduler`; `--backend celery`: a private redis-server, a prefork worker with
`--worker-concurrency` processes and celery beat), lets it warm up for one interval,
measures for DURATION seconds, stops it, and reads the probe ledger. Prints JSON: start lag
(slot to start) p50/p95/p99/max, expected versus executed slots, missed, duplicates and
lost slots, each process's CPU seconds per wall second and peak RSS (a worker counts its
pool), and database row writes per run (PostgreSQL's statistics; not on SQLite).

    .venv/bin/python bench/scheduler_load.py --count 1000 --interval 10 --duration 120
    .venv/bin/python bench/scheduler_load.py --count 10000 --interval 60 --duration 180 \\
        --database-url postgres://postgres@127.0.0.1:5432/altar_bench [--backend celery]

With a PostgreSQL URL the database is dropped and created afresh. Without one, a new SQLite
file in a temporary folder is used. `--aligned` puts every probe's first slot on the same
second (the worst case); by default first slots are spread over the interval, as
strategies started at different moments are.
"""

import argparse
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engines import (  # noqa: E402
    backend_env,
    cpu_seconds,
    django_on,
    engine,
    peak_rss_mb,
    redis_for,
)


def percentile(sorted_values, fraction):
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def pg_row_writes():
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute(
            "SELECT tup_inserted + tup_updated + tup_deleted FROM pg_stat_database "
            "WHERE datname = current_database()"
        )
        return cur.fetchone()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--duration", type=int, default=120)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--aligned", action="store_true")
    parser.add_argument(
        "--warmup", type=int, default=0, help="seconds before measuring (default: one interval)"
    )
    parser.add_argument("--backend", choices=["apscheduler", "celery"], default="apscheduler")
    parser.add_argument("--worker-concurrency", type=int, default=2)
    args = parser.parse_args()
    with redis_for(args.backend) as redis_url:
        run(args, redis_url or "")


def run(args, redis_url):
    url = django_on(args.database_url, "WARNING", **backend_env(args.backend, redis_url))
    postgres = url.startswith("postgres")

    from django.core.management import call_command
    from django.utils import timezone

    from scheduler.models import JobRun, ProbeRun, Schedule
    from tests import support

    # Only the probes: the built-in jobs would add their own runs to the figures.
    Schedule.objects.exclude(task="probe").delete()
    call_command("probe", count=args.count, interval=args.interval, verbosity=0)
    if not args.aligned:
        spread_anchors(Schedule, args.interval)

    env = support.subprocess_env(DATABASE_URL=url, LOG_LEVEL="WARNING")
    with engine(args.backend, env, args.worker_concurrency) as processes:
        booted = time.monotonic()
        support.wait_until(
            lambda: (
                ProbeRun.objects.exists()
                or any(p.proc.poll() is not None for p in processes.values())
            ),
            600,
            "the first probe run",
            every=0.2,
        )
        start_seconds = round(time.monotonic() - booted, 1)
        # Warm-up (one full round by default): the slots that fell due while the engine
        # started arrive at once, and the window should show the steady state.
        time.sleep(args.warmup or args.interval)
        window_start = timezone.now()
        pids = {name: p.proc.pid for name, p in processes.items()}
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        wall_before = time.monotonic()
        writes_before = pg_row_writes() if postgres else None
        time.sleep(args.duration)
        window_end = timezone.now()
        wall = time.monotonic() - wall_before
        cpu = {
            name: round((cpu_seconds(pid) - cpu_before[name]) / wall, 3)
            for name, pid in pids.items()
        }
        writes = pg_row_writes() - writes_before if postgres else None
        rss = {name: peak_rss_mb(pid) for name, pid in pids.items()}
        # Let the runs of the window's last slots finish before reading the ledger.
        time.sleep(min(5, args.interval))
    lines = [line for p in processes.values() for line in p.lines]

    lags = sorted(
        (started - slot).total_seconds() * 1000
        for slot, started in ProbeRun.objects.filter(
            scheduled_at__range=(window_start, window_end)
        ).values_list("scheduled_at", "started_at")
    )
    executed = (
        ProbeRun.objects.filter(scheduled_at__range=(window_start, window_end))
        .values("job_id", "scheduled_at")
        .distinct()
        .count()
    )
    expected = 0
    lost = 0
    for schedule in Schedule.objects.filter(task="probe"):
        slot = schedule.timing.next_slot(window_start, inclusive=True)
        while slot <= window_end:
            expected += 1
            slot += timedelta(seconds=args.interval)
        lost += len(support.lost(schedule.job_id, window_start, window_end))
    missed = sum(
        JobRun.objects.filter(
            status=JobRun.MISSED, scheduled_at__lte=window_end, missed_until__gte=window_start
        ).values_list("missed_count", flat=True)
    )
    errors = [line for line in lines if "ERROR" in line or "Traceback" in line]
    print(
        json.dumps(
            {
                "benchmark": "scheduler_load",
                "backend": args.backend,
                "worker_concurrency": args.worker_concurrency if args.backend == "celery" else None,
                "database": "postgresql" if postgres else "sqlite",
                "probes": args.count,
                "interval_s": args.interval,
                "rate_runs_per_s": round(args.count / args.interval, 1),
                "first_slots": "aligned" if args.aligned else "spread",
                "warmup_s": args.warmup or args.interval,
                "duration_s": args.duration,
                "start_up_s": start_seconds,
                "lag_ms": {
                    "p50": round(percentile(lags, 0.50), 1) if lags else None,
                    "p95": round(percentile(lags, 0.95), 1) if lags else None,
                    "p99": round(percentile(lags, 0.99), 1) if lags else None,
                    "max": round(lags[-1], 1) if lags else None,
                },
                "slots_expected": expected,
                "slots_executed": executed,
                "slots_missed": missed,
                "slots_lost": lost,
                "duplicates": len(support.duplicates()),
                "cpu_s_per_wall_s": cpu,
                "peak_rss_mb": rss,
                "db_row_writes_per_run": round(writes / executed, 2)
                if writes and executed
                else None,
                "errors_logged": len(errors),
                "first_error": errors[0] if errors else None,
            },
            indent=2,
        )
    )


def spread_anchors(schedule_model, interval):
    """Spread first slots evenly over one interval (whole seconds), as strategies started
    at different moments have them."""
    probes = list(schedule_model.objects.filter(task="probe").order_by("pk"))
    base = probes[0].anchor + timedelta(seconds=1)
    for n, probe in enumerate(probes):
        probe.anchor = base + timedelta(seconds=(n * interval) // len(probes))
    schedule_model.objects.bulk_update(probes, ["anchor"])


if __name__ == "__main__":
    main()
