"""Server time of the job status pages at size: 10,000 schedules, 1,000,000 runs.

Loads a scratch PostgreSQL database (dropped and created afresh) with SCHEDULES schedules
(a few paused, failing and late) and RUNS_PER_SCHEDULE runs each (one a minute, every
seventeenth failed, with a traceback), the per-job counters /metrics reads, then times
each page through Django's test client — the whole request inside the server
(middleware, queries, template), no network — and counts its queries, as a superuser and
as a staff member owning 100 of the strategies. Prints JSON.

    .venv/bin/python bench/jobs_pages.py \\
        [--database-url postgres://postgres@127.0.0.1:5432/altar_bench_i8] \\
        [--schedules 10000] [--runs-per-schedule 100] [--requests 50]

The goal (issue 8): p95 under 150 ms for /jobs/ and /jobs/<id>/ on PostgreSQL.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engines import django_on  # noqa: E402
from scheduler_load import percentile  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/altar_bench_i8"
METRICS_TOKEN = "bench-only-metrics-token"
OWNED = 100  # strategies of the non-superuser whose pages are timed too


def load(schedules: int, runs_per_schedule: int) -> dict:
    """Bulk-load with set-based SQL (generate_series): a million rows in seconds."""
    from django.db import connection
    from django.utils import timezone

    from scheduler.models import JobCounter, JobHealth, JobRun, Schedule

    now = timezone.now().replace(microsecond=0)
    started = time.monotonic()
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {qn(Schedule._meta.db_table)} (job_id, description, task, kwargs,
                enabled, enabled_at, kind, interval_seconds, anchor, cron_minute, cron_hour,
                cron_day_of_month, cron_month, cron_day_of_week, timezone, timeout_seconds,
                misfire_grace_seconds, max_attempts, retry_backoff_seconds, queue,
                max_running, created_at, updated_at, paused_reason)
            SELECT 'strategy_' || i, 'Strategy ' || i, 'probe', '{{}}',
                mod(i, 20) <> 0, %s, 'interval', 60, %s - interval '2 days', '*', '*', '*', '*',
                '*', '', 600, 60, 1, 10, 'default', 3, %s, %s, ''
            FROM generate_series(1, %s) AS i
            """,
            [now, now, now, now, schedules],
        )
        cursor.execute(
            f"""
            INSERT INTO {qn(JobRun._meta.db_table)} (job_id, scheduled_at, started_at,
                finished_at, status, attempt, owner, heartbeat_at, summary, traceback,
                attempts)
            SELECT 'strategy_' || i,
                %s - make_interval(mins => k),
                %s - make_interval(mins => k) + interval '20 milliseconds',
                %s - make_interval(mins => k) + make_interval(secs => 0.02 + mod(k, 7) * 0.3),
                CASE WHEN mod(k, 17) = 0 THEN 'failed' ELSE 'succeeded' END,
                1, 'bench:1', NULL,
                CASE WHEN mod(k, 17) = 0 THEN 'RuntimeError: bench failure' ELSE '42 rows' END,
                CASE WHEN mod(k, 17) = 0
                    THEN 'Traceback (most recent call last):' || chr(10) || 'RuntimeError'
                    ELSE '' END,
                '[]'
            FROM generate_series(1, %s) AS i, generate_series(1, %s) AS k
            """,
            [now, now, now, schedules, runs_per_schedule],
        )
        cursor.execute(
            f"""
            INSERT INTO {qn(JobCounter._meta.db_table)} (job_id, name, label, value, total)
            SELECT 'strategy_' || i, n.name, n.label, n.value, n.total
            FROM generate_series(1, %s) AS i,
                (VALUES ('runs', 'succeeded', 94.0, 0.0), ('runs', 'failed', 6.0, 0.0),
                        ('duration', '0.5', 60.0, 12.0), ('duration', '5.0', 40.0, 68.0),
                        ('lag', '0.05', 100.0, 2.0)) AS n(name, label, value, total)
            """,
            [schedules],
        )
        cursor.execute(
            f"""
            INSERT INTO {qn(JobHealth._meta.db_table)} (job_id, state, failures_in_a_row,
                changed_at, reason)
            SELECT 'strategy_' || i,
                CASE WHEN mod(i, 2) = 0 THEN 'failing' ELSE 'late' END, 3, %s, 'bench'
            FROM generate_series(3, %s, 25) AS i
            """,
            [now, schedules],
        )
        for model in (Schedule, JobRun, JobCounter, JobHealth):
            cursor.execute(f"ANALYZE {qn(model._meta.db_table)}")
    return {
        "schedules": Schedule.objects.count(),
        "runs": JobRun.objects.count(),
        "load_s": round(time.monotonic() - started, 1),
    }


def time_page(client, path: str, requests: int, **headers) -> dict:
    from django.db import connection

    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    # An execute wrapper, not CaptureQueriesContext: a request resets the query log.
    # Requests are https (`secure=True`), as production serves them.
    with connection.execute_wrapper(count):
        response = client.get(path, headers=headers, secure=True)
    assert response.status_code == 200, (path, response.status_code)
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path, headers=headers, secure=True)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    timings.sort()
    return {
        "queries": len(queries),
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(percentile(timings, 0.95), 1),
        "max_ms": round(timings[-1], 1),
    }


def time_pages(client, pages: dict[str, str], requests: int) -> dict:
    """`time_page` for each of `pages` ({name: path}), by name."""
    return {name: time_page(client, path, requests) for name, path in pages.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--runs-per-schedule", type=int, default=100)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        parser.error("this benchmark loads data with PostgreSQL's generate_series")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
    os.environ["METRICS_TOKEN"] = METRICS_TOKEN
    django_on(args.database_url)
    from django.contrib.auth import get_user_model
    from django.test import Client

    size = load(args.schedules, args.runs_per_schedule)
    user = get_user_model().objects.create_superuser("bench", "", "bench-only-password")
    client = Client()
    client.force_login(user)
    job = f"strategy_{args.schedules // 2}"
    pages = {
        "/jobs/": "/jobs/",
        "/jobs/?page=50": "/jobs/?page=50",
        "/jobs/?state=failing": "/jobs/?state=failing",
        "/jobs/?state=ok&q=strategy_5": "/jobs/?state=ok&q=strategy_5",
        "/jobs/<id>/": f"/jobs/{job}/",
        "/jobs/<id>/?page=2": f"/jobs/{job}/?page=2",
        "/api/v1/jobs": "/api/v1/jobs",
    }
    results = time_pages(client, pages, args.requests)
    # The same pages for a staff member who owns OWNED of the strategies: every query
    # then goes through the ownership rule (a superuser's skips it).
    from strategies.models import Strategy

    owner = get_user_model().objects.create_user("owner", is_staff=True)
    Strategy.objects.bulk_create(
        Strategy(pk=i, name=f"Strategy {i}", owner=owner, symbol="BTC/USDT")
        for i in range(1, OWNED + 1)
    )
    owner_client = Client()
    owner_client.force_login(owner)
    own_job = f"strategy_{OWNED // 2}"
    owner_pages = {
        "/jobs/": "/jobs/",
        "/jobs/?state=failing": "/jobs/?state=failing",
        "/jobs/<id>/": f"/jobs/{own_job}/",
        "/api/v1/jobs": "/api/v1/jobs",
    }
    results_as_owner = time_pages(owner_client, owner_pages, args.requests)
    results["/metrics"] = time_page(
        Client(),
        "/metrics",
        max(5, args.requests // 10),
        Authorization=f"Bearer {METRICS_TOKEN}",
    )
    # The scheduler's look for late jobs (every SCHEDULER_HEALTH_EVERY seconds) reads
    # every enabled schedule with its newest run: its cost grows with the schedules.
    from django.utils import timezone

    from scheduler.runs.health import late_jobs

    looks = []
    for _ in range(3):
        started = time.perf_counter()
        late = late_jobs(timezone.now())
        looks.append((time.perf_counter() - started) * 1000)
    print(
        json.dumps(
            {
                "benchmark": "jobs_pages",
                "late_jobs_look_ms": round(statistics.median(looks), 1),
                "late_jobs_found": len(late),
                "database": "postgresql",
                **size,
                "requests_per_page": args.requests,
                "server_time": results,
                f"server_time_as_owner_of_{OWNED}_strategies": results_as_owner,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
