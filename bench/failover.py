"""Fail-over time: kill (or freeze) the scheduler lock holder, time until a standby fires.

Runs two `manage.py runscheduler` on a fresh PostgreSQL database with three probe jobs
every second. KILLS times: SIGKILL the holder, time until the standby logs that its
scheduler started and until its first probe run, then start a new standby. Also checks
the probe ledger for doubled slots. Prints JSON.

    .venv/bin/python bench/failover.py [--kills 5] \\
        [--database-url postgres://postgres@127.0.0.1:5432/altar_bench]
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engines import ROOT, fresh_postgres  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument(
        "--freeze",
        action="store_true",
        help="SIGSTOP the holder (a frozen process keeps its socket) instead of SIGKILL",
    )
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/altar_bench")
    args = parser.parse_args()
    fresh_postgres(args.database_url)
    os.environ.update(DATABASE_URL=args.database_url, SCHEDULER_AUTOSTART="false", LOG_LEVEL="INFO")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    os.environ["DJANGO_SETTINGS_MODULE"] = "altar.settings"
    os.environ["SCHEDULER_DIAGNOSTIC_TASKS"] = "true"  # it schedules `probe`
    sys.path.insert(0, str(ROOT))
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, check=True)
    subprocess.run([*manage, "probe", "--count", "3", "--interval", "1"], cwd=ROOT, check=True)

    import django

    django.setup()
    from scheduler.models import ProbeRun
    from tests import support

    holder = support.manage("runscheduler")
    holder.wait_for_line("Background scheduler started", timeout=60)
    standby = support.manage("runscheduler")
    standby.wait_for_line("standing by", timeout=60)
    to_start, to_first_run = [], []
    try:
        for _ in range(args.kills):
            if args.freeze:
                holder.proc.send_signal(signal.SIGSTOP)
            else:
                holder.stop(signal.SIGKILL)
            killed = time.monotonic()
            standby.wait_for_line("Background scheduler started", timeout=60)
            to_start.append(time.monotonic() - killed)
            support.wait_until(
                lambda p=standby.proc.pid: ProbeRun.objects.filter(pid=p).exists(),
                30,
                "the new holder's first run",
                every=0.01,
            )
            to_first_run.append(time.monotonic() - killed)
            if args.freeze:
                holder.stop(signal.SIGKILL)
            holder, standby = standby, support.manage("runscheduler")
            standby.wait_for_line("standing by", timeout=60)
    finally:
        holder.stop()
        standby.stop()

    def stats(values):
        return {
            "min": round(min(values), 2),
            "median": round(statistics.median(values), 2),
            "max": round(max(values), 2),
        }

    print(
        json.dumps(
            {
                "benchmark": "failover",
                "kills": args.kills,
                "how": "SIGSTOP (frozen)" if args.freeze else "SIGKILL",
                "kill_to_takeover_s": stats(to_start),
                "kill_to_first_run_s": stats(to_first_run),
                "duplicates": len(support.duplicates()),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
