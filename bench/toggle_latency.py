"""Toggle-to-effect latency: how long a Start or Stop takes to reach a running scheduler.

Starts `manage.py runscheduler` on a scratch database (optionally with EXTRA probe
schedules every EXTRA_INTERVAL seconds, first slots spread over the interval, to measure
under load), then starts and stops one
strategy COUNT times. Each toggle is timed from the save to the scheduler's log line
saying it registered (or removed) the job; each start also to the strategy's first run.
Prints JSON.

    .venv/bin/python bench/toggle_latency.py [--count 50] [--extra 1000 --extra-interval 10] \\
        [--database-url postgres://postgres@127.0.0.1:5432/altar_bench] [--backend celery]

With `--backend celery` the toggles reach celery beat (a private redis-server and a prefork
worker run the strategy).

With a PostgreSQL URL the database is dropped and created afresh; without one a new SQLite
file in a temporary folder is used.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engines import backend_env, django_on, engine, redis_for  # noqa: E402
from scheduler_load import percentile, spread_anchors  # noqa: E402


def summary(values_ms):
    values = sorted(values_ms)
    return {
        "p50": round(statistics.median(values), 1),
        "p99": round(percentile(values, 0.99), 1),
        "max": round(values[-1], 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--extra", type=int, default=0, help="other schedules")
    parser.add_argument("--extra-interval", type=int, default=60)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--backend", choices=["apscheduler", "celery"], default="apscheduler")
    args = parser.parse_args()
    with redis_for(args.backend) as redis_url:
        run(args, redis_url or "")


def run(args, redis_url):

    url = django_on(args.database_url, "INFO", **backend_env(args.backend, redis_url))
    from django.core.management import call_command

    from scheduler.models import JobRun, Schedule
    from strategies.models import Strategy
    from tests.support import subprocess_env, wait_until

    if args.extra:
        call_command("probe", count=args.extra, interval=args.extra_interval, verbosity=0)
        spread_anchors(Schedule, args.extra_interval)
    strategy = Strategy.objects.create(name="bench", interval_seconds=3600)
    with engine(args.backend, subprocess_env(DATABASE_URL=url)) as processes:
        process = processes.get("scheduler") or processes["beat"]
        process.wait_for_line("Background scheduler started", timeout=600)
        if args.extra:
            # Warm-up: the slots that fell due while the scheduler started run as one burst;
            # measure once it has been absorbed, in the steady state.
            time.sleep(args.extra_interval)
        applied_start, applied_stop, first_run = [], [], []
        for _ in range(args.count):
            mark = len(process.lines)
            saved, wall = time.monotonic(), time.time()
            strategy.start()
            process.wait_for_line(f"Registered job {strategy.job_id} ", timeout=10, start=mark)
            applied_start.append((time.monotonic() - saved) * 1000)
            anchor = Schedule.objects.get(job_id=strategy.job_id).anchor
            run = wait_until(
                lambda a=anchor: JobRun.objects.filter(
                    job_id=strategy.job_id, scheduled_at=a, started_at__isnull=False
                ).first(),
                60,
                "the first run",
                every=0.005,
            )
            first_run.append((run.started_at.timestamp() - wall) * 1000)
            mark = len(process.lines)
            saved = time.monotonic()
            strategy.stop()
            process.wait_for_line(f"Removed job {strategy.job_id}", timeout=10, start=mark)
            applied_stop.append((time.monotonic() - saved) * 1000)
            # The next start needs a new anchor, so a new whole second.
            time.sleep(max(0.0, 1.05 - (time.time() % 1)))
    print(
        json.dumps(
            {
                "benchmark": "toggle_latency",
                "backend": args.backend,
                "database": "postgresql" if url.startswith("postgres") else "sqlite",
                "toggles": args.count,
                "other_schedules": args.extra,
                "other_interval_s": args.extra_interval if args.extra else None,
                "start_applied_ms": summary(applied_start),
                "stop_applied_ms": summary(applied_stop),
                "start_to_first_run_ms": summary(first_run),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
