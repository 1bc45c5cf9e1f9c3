"""How long a toggle takes to reach a scheduler running in another process.

Starts `manage.py runscheduler` on a scratch database, then starts and stops one strategy
(start immediately) COUNT times. For each start it measures the time from the save to the
first run's start (recorded by the scheduler process, same clock); for each stop, the time
until the scheduler logs that it removed the job. Prints JSON.

    .venv/bin/python bench/toggle_latency.py [--count 20] [--database-url postgres://...]

Without --database-url it uses a fresh SQLite file in a temporary folder.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def summary(values_ms):
    values = sorted(values_ms)
    return {
        "min": round(values[0], 1),
        "median": round(statistics.median(values), 1),
        "p95": round(values[max(0, int(len(values) * 0.95) - 1)], 1),
        "max": round(values[-1], 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="altar-bench-")
    url = args.database_url or f"sqlite:///{scratch}/bench.sqlite3"
    os.environ.update(DATABASE_URL=url, SCHEDULER_AUTOSTART="false", LOG_LEVEL="INFO")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    os.environ["DJANGO_SETTINGS_MODULE"] = "altar.settings"
    sys.path.insert(0, str(ROOT))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True
    )

    import django

    django.setup()
    from scheduler.models import JobRun
    from scheduler.testing import manage, subprocess_env, wait_until
    from strategies.models import Strategy

    strategy = Strategy.objects.create(name="bench", interval_seconds=3600)
    JobRun.objects.filter(job_id=strategy.job_id).delete()
    process = manage("runscheduler", env=subprocess_env(DATABASE_URL=url))
    try:
        process.wait_for_line("Background scheduler started", timeout=60)
        starts, stops = [], []
        for _ in range(args.count):
            saved = time.time()
            strategy.start()
            run = wait_until(
                lambda: JobRun.objects.filter(
                    job_id=strategy.job_id,
                    started_at__isnull=False,
                    scheduled_at__gte=strategy_anchor(strategy),
                ).first(),
                10,
                "the first run",
                every=0.005,
            )
            starts.append((run.started_at.timestamp() - saved) * 1000)
            mark = len(process.lines)
            saved = time.monotonic()
            strategy.stop()
            process.wait_for_line(f"Removed job {strategy.job_id}", timeout=10, start=mark)
            stops.append((time.monotonic() - saved) * 1000)
            # The next start must get a new anchor (a new whole second).
            time.sleep(max(0.0, 1.05 - (time.time() % 1)))
    finally:
        process.stop()
    print(
        json.dumps(
            {
                "benchmark": "toggle_latency",
                "database": url.split(":")[0],
                "toggles": args.count,
                "start_to_first_run_ms": summary(starts),
                "stop_to_job_removed_ms": summary(stops),
            },
            indent=2,
        )
    )


def strategy_anchor(strategy):
    from scheduler.models import Schedule

    return Schedule.objects.get(job_id=strategy.job_id).anchor


if __name__ == "__main__":
    main()
