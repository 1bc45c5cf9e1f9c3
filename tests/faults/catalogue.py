"""The faults of issue 10, by number, and where each is tested.

`bench/faults_report.py` prints its table in this order. A fault whose behaviour was built
(and tested) by an earlier issue names that test instead of being repeated here.
"""

FAULTS = {
    1: "executor saturation",
    2: "scheduler down, then back",
    3: "PostgreSQL restarted",
    4: "hub connections terminated mid-run",
    5: "Redis stopped (Celery)",
    6: "Redis paused (CLIENT PAUSE)",
    7: "start with Redis absent",
    8: "worker main process SIGKILL",
    9: "beat SIGKILL after sending",
    10: "restarts faster than the interval",
    11: "admin edit during an in-flight run",
    12: "Run now during an in-flight run",
    13: "clock jump +1 h",
    14: "hard time limit, self-killing task",
    15: "hostile input",
    16: "SQLite: two schedulers and a writing web",
}

# Faults tested where the behaviour was built: {fault: [pytest node ids]}.
TESTED_ELSEWHERE = {
    2: [
        "scheduler/tests/test_restarts.py::"
        "test_after_a_stop_each_job_continues_on_its_grid_and_the_gap_is_one_missed_record",
    ],
    5: [
        "scheduler/tests/test_celery_backend.py::"
        "test_redis_stopped_for_a_few_seconds_crashes_nothing_and_runs_resume",
    ],
    14: [
        "scheduler/tests/test_celery_backend.py::"
        "test_a_run_over_its_timeout_is_stopped_by_the_worker_and_recorded_timed_out",
        "scheduler/tests/test_celery_backend.py::"
        "test_a_task_that_kills_its_worker_every_time_fails_after_its_maximum_attempts",
        "scheduler/tests/test_async_jobs.py::"
        "test_a_sync_job_over_its_timeout_is_recorded_timed_out_when_it_returns",
        "scheduler/tests/test_restarts.py::"
        "test_with_no_attempts_left_a_killed_run_stays_interrupted",
    ],
}
