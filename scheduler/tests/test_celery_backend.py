"""The Celery backend on the real thing: a prefork `celery worker` and celery beat
(`manage.py runscheduler`) as subprocesses, a private `redis-server`, PostgreSQL.

Slots are counted on the probe ledger (no unique key). No eager mode, no mocks.
"""

import signal
from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler.models import JobRun, ProbeRun, Schedule
from tests import support

pytestmark = [pytest.mark.subprocess, pytest.mark.postgres_only]

# Generous bounds for a loaded 2-core machine; the waits end as soon as the event happens.
START_BOUND = 60
RUN_BOUND = 30


@pytest.fixture
def celery_env(redis_server, settings):
    # This process writes schedules as the web would under this backend (projection).
    settings.SCHEDULER_BACKEND = "celery"
    return support.subprocess_env(
        SCHEDULER_BACKEND="celery",
        REDIS_URL=redis_server.url,
        SCHEDULER_HEARTBEAT_SECONDS="1",
    )


@pytest.fixture
def hub(celery_env):
    """Start workers and beats on demand; everything is stopped at the end. The built-in
    jobs are removed, so only each test's own jobs run."""
    Schedule.objects.all().delete()
    started = []

    class Hub:
        env = celery_env

        def worker(self, name="w1"):
            started.append(support.celery_worker(celery_env, name=name))
            return started[-1]

        def beat(self, wait=True):
            process = support.manage("runscheduler", env=celery_env)
            started.append(process)
            if wait:
                process.wait_for_line(r"Background scheduler started, backend=celery", START_BOUND)
            return process

    yield Hub()
    for process in reversed(started):
        process.stop()


def probe(job_id="probe_1", interval=1, **kwargs):
    return Schedule.objects.create(job_id=job_id, task="probe", interval_seconds=interval, **kwargs)


def probe_slots(job_id="probe_1"):
    return ProbeRun.objects.filter(job_id=job_id).count()


def wait_for_slots(count, job_id="probe_1", bound=RUN_BOUND):
    support.wait_until(
        lambda: probe_slots(job_id) >= count, bound, f"{count} runs of {job_id} on the worker"
    )


def test_a_strategy_started_in_admin_runs_on_the_worker_and_stopping_it_stops_it(hub, staff_client):
    from strategies.models import Strategy

    strategy = Strategy.objects.create(name="Trend", symbol="BTC/USDT", interval_seconds=1)
    probe("clock")  # a second job, used as a clock below
    hub.worker()
    beat = hub.beat()
    response = staff_client.post(
        "/admin/strategies/strategy/",
        {"action": "start_strategies", "_selected_action": [strategy.pk]},
    )
    assert response.status_code == 302
    support.wait_until(
        lambda: JobRun.objects.filter(job_id=strategy.job_id, status=JobRun.SUCCEEDED).count() >= 2,
        RUN_BOUND,
        "two recorded runs of the strategy",
    )
    run = JobRun.objects.filter(job_id=strategy.job_id).first()
    assert run.owner != "" and run.attempt == 1
    assert run.scheduled_at.microsecond == 0  # a slot on the grid, not a send time

    staff_client.post(
        "/admin/strategies/strategy/",
        {"action": "stop_strategies", "_selected_action": [strategy.pk]},
    )
    beat.wait_for_line(rf"Removed job {strategy.job_id}", RUN_BOUND)
    runs_at_stop = JobRun.objects.filter(job_id=strategy.job_id).count()
    clock_at_stop = probe_slots("clock")
    wait_for_slots(clock_at_stop + 3, "clock")  # three more seconds, by the clock job
    assert JobRun.objects.filter(job_id=strategy.job_id).count() <= runs_at_stop + 1  # in flight
    assert support.duplicates() == []


def test_a_worker_process_killed_mid_run_is_redelivered_and_completes_once_as_attempt_two(hub):
    # The probe kills its own worker process with SIGKILL in attempt 1, after it started.
    probe(interval=3600, max_attempts=2, kwargs={"kill_attempts": 1})
    worker = hub.worker()
    hub.beat()
    support.wait_until(
        lambda: JobRun.objects.filter(status=JobRun.SUCCEEDED).first(),
        RUN_BOUND,
        "the redelivered run to succeed",
    )
    run = JobRun.objects.get()
    assert run.attempt == 2
    assert "interrupted" in run.attempts[0]["error"]
    assert list(ProbeRun.objects.order_by("id").values_list("attempt", flat=True)) == [1, 2]
    assert support.duplicates() == []
    worker.wait_for_line(r"WorkerLostError|exited with 'signal 9", 5)


def test_a_task_that_kills_its_worker_every_time_fails_after_its_maximum_attempts(hub):
    probe(interval=3600, max_attempts=3, kwargs={"kill_attempts": 99})
    worker = hub.worker()
    hub.beat()
    support.wait_until(
        lambda: JobRun.objects.filter(status=JobRun.FAILED).first(), RUN_BOUND, "the give-up"
    )
    # The message delivered after the last death is acknowledged without running: no loop.
    worker.wait_for_line(r"already claimed; not run again", RUN_BOUND)
    run = JobRun.objects.get()
    assert run.summary.startswith("failed: gave up after 3 attempts")
    assert list(ProbeRun.objects.order_by("id").values_list("attempt", flat=True)) == [1, 2, 3]


def test_restarting_beat_twice_within_an_interval_doubles_no_slot_and_loses_none(hub):
    probe(interval=6)
    hub.worker()
    first = hub.beat()
    start = timezone.now()
    wait_for_slots(1)
    first.stop()
    second = hub.beat()
    second.stop()
    hub.beat()
    ran = probe_slots()
    wait_for_slots(ran + 2)
    end = ProbeRun.objects.order_by("-scheduled_at").first().scheduled_at
    assert support.duplicates() == []
    assert support.lost("probe_1", start - timedelta(seconds=1), end) == []


def test_two_beats_send_each_slot_once(hub):
    probe(interval=1)
    hub.worker()
    hub.beat()
    standby = hub.beat(wait=False)
    standby.wait_for_line(r"standing by", START_BOUND)
    start = timezone.now()
    wait_for_slots(probe_slots() + 4)
    assert support.duplicates() == []
    assert (
        support.lost("probe_1", start, ProbeRun.objects.latest("scheduled_at").scheduled_at) == []
    )


def test_a_failed_run_is_retried_on_the_worker_with_its_errors_recorded(hub):
    probe(interval=3600, max_attempts=2, retry_backoff_seconds=1, kwargs={"fail_attempts": 1})
    hub.worker()
    hub.beat()
    support.wait_until(
        lambda: JobRun.objects.filter(status=JobRun.SUCCEEDED).first(), RUN_BOUND, "the retry"
    )
    run = JobRun.objects.get()
    assert run.attempt == 2
    assert "RuntimeError: probe probe_1 asked to fail" in run.attempts[0]["error"]
    assert support.duplicates() == []


def test_switching_backends_keeps_history_schedules_and_grids(hub, scheduler_process, settings):
    schedule = probe(interval=2)
    anchor = schedule.anchor
    start = timezone.now()

    settings.SCHEDULER_BACKEND = "apscheduler"
    aps = scheduler_process()
    wait_for_slots(2)
    aps.stop()

    hub.worker()
    beat = hub.beat()
    wait_for_slots(probe_slots() + 2)
    beat.stop()

    aps = scheduler_process()
    wait_for_slots(probe_slots() + 1)
    aps.stop()

    end = ProbeRun.objects.latest("scheduled_at").scheduled_at
    schedule.refresh_from_db()
    assert schedule.anchor == anchor
    slots = list(ProbeRun.objects.values_list("scheduled_at", flat=True))
    assert all((slot - anchor).total_seconds() % 2 == 0 for slot in slots), "off the grid"
    assert support.duplicates() == []
    assert support.lost("probe_1", start, end) == []


def test_redis_stopped_for_a_few_seconds_crashes_nothing_and_runs_resume(
    hub, redis_server, fault_report
):
    probe(interval=1)
    worker = hub.worker()
    beat = hub.beat()
    wait_for_slots(2)
    start = timezone.now()
    redis_server.stop()
    beat.wait_for_line(r"Broker unreachable", RUN_BOUND)
    redis_server.start()  # same port, empty
    back = timezone.now()
    beat.wait_for_line(r"Broker reachable again; sending resumed", RUN_BOUND)
    resumed = probe_slots()
    wait_for_slots(resumed + 3)
    assert beat.proc.poll() is None and worker.proc.poll() is None
    end = ProbeRun.objects.latest("scheduled_at").scheduled_at
    first_after = ProbeRun.objects.filter(started_at__gte=back).earliest("started_at")
    fault_report.check_ledger(
        5,
        ["probe_1"],
        start,
        end,
        recovery=(first_after.started_at - back).total_seconds(),
        note="Redis down until beat noticed, then back empty",
    )


def test_beat_stopped_with_sigterm_exits_cleanly_and_frees_the_lock(hub):
    probe(interval=1)
    hub.worker()
    first = hub.beat()
    assert first.stop(signal.SIGTERM) == 0
    hub.beat()  # gets the lock at once: nothing waits for a lease to expire
    wait_for_slots(1)


def test_a_run_over_its_timeout_is_stopped_by_the_worker_and_recorded_timed_out(hub):
    # A plain (sync) function: in-process engines can only record it late; Celery stops it.
    probe(interval=3600, timeout_seconds=1, kwargs={"sleep": 20})
    hub.worker()
    hub.beat()
    run = support.wait_until(
        lambda: JobRun.objects.filter(status=JobRun.TIMED_OUT).first(), RUN_BOUND, "the timeout"
    )
    assert (run.finished_at - run.started_at).total_seconds() < 10
    assert run.summary == "timed out after 1s (stopped by the worker)"
    assert ProbeRun.objects.get().finished_at is None  # stopped mid-sleep


def test_a_beat_restart_with_runs_still_queued_counts_none_of_them_missed(hub):
    probe(interval=1)
    beat = hub.beat()  # no worker yet: the messages wait in Redis
    support.wait_until(lambda: len(queued_slots(hub)) >= 3, RUN_BOUND, "three queued runs")
    assert beat.stop() == 0
    queued = queued_slots(hub)
    hub.beat()
    hub.worker()
    support.wait_until(
        lambda: set(queued) <= set(ProbeRun.objects.values_list("scheduled_at", flat=True)),
        RUN_BOUND,
        "every queued slot to run",
    )
    wait_for_slots(len(queued) + 3)
    executed = set(ProbeRun.objects.values_list("scheduled_at", flat=True))
    # The slots due while no beat ran are one missed record (the restart policy); none of
    # them is a slot that was sent.
    for first, until in JobRun.objects.filter(status=JobRun.MISSED).values_list(
        "scheduled_at", "missed_until"
    ):
        assert not [slot for slot in executed if first <= slot <= until]
    end = max(executed)
    assert support.duplicates() == []
    assert support.lost("probe_1", min(queued), end) == []


def queued_slots(hub, queue="default"):
    """The slots of the run messages waiting in a Redis queue."""
    import redis

    from scheduler.backends.celery.broker import run_in_message

    client = redis.Redis.from_url(hub.env["REDIS_URL"])
    return [run_in_message(raw)[1] for raw in client.lrange(queue, 0, -1)]


def test_beat_counts_run_messages_queued_or_unacked_in_redis_as_sent(redis_server, settings):
    """What a new beat reads at start (fault 9): each job's latest slot whose message waits
    in a queue, a priority list, or delivered to a worker and not acknowledged; another
    task's message and a malformed entry are passed over."""
    from datetime import UTC, datetime

    from kombu import Connection

    from scheduler.backends.celery.broker import waiting_in_broker
    from scheduler.backends.celery.tasks import RUN_TASK

    settings.CELERY_BROKER_URL = redis_server.url

    def slot(second):
        return datetime(2026, 1, 1, 10, 0, second, tzinfo=UTC)

    with Connection(redis_server.url) as broker:
        producer = broker.Producer()

        def send(job_id, when, queue="default", task=RUN_TASK, **options):
            body = [[job_id, when.isoformat(), 1], {}, {}]
            producer.publish(
                body, routing_key=queue, headers={"task": task}, serializer="json", **options
            )

        for queue in ("default", "strategies"):
            broker.default_channel.queue_declare(queue)
        send("probe_1", slot(10))
        delivered = broker.default_channel.basic_get("default", no_ack=False)
        assert delivered is not None  # now in the unacked hash, not the list
        send("probe_1", slot(5))
        send("probe_2", slot(20), queue="strategies", priority=6)
        send("probe_3", slot(30), task="market_data.jobs.collect")
        redis_server.cli("LPUSH", "default", "not json")

        assert waiting_in_broker() == {"probe_1": slot(10), "probe_2": slot(20)}
