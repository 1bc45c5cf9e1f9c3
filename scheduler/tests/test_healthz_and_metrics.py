"""`/healthz` (open, no secrets) and `/metrics` (bearer token, figures from the database,
parsed back with prometheus-client's own parser)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from scheduler.execution import run_job
from scheduler.models import JobCounter, JobRun, Schedule, SchedulerState
from scheduler.runs import claims
from strategies.models import Strategy

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests"


def families(response) -> dict:
    return {f.name: f for f in text_string_to_metric_families(response.content.decode())}


def samples(family, name=None) -> dict:
    return {
        tuple(sorted(s.labels.items())): s.value
        for s in family.samples
        if name is None or s.name == name
    }


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def get():
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.content
        return families(response)

    return get


def test_healthz_needs_no_login_and_tells_anonymous_callers_only_the_verdict(client):
    """An uptime monitor learns whether the hub works and what fails, not what it tracks."""
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "fail",
        "failing": ["scheduler"],
        "warning": ["data_freshness"],
    }


def test_healthz_gives_staff_each_components_reason(staff_client):
    response = staff_client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["components"]["database"]["status"] == "ok"
    assert body["components"]["scheduler"] == {
        "status": "fail",
        "message": "no process holds the scheduler lock",
    }
    assert body["components"]["broker"]["status"] == "ok"


def test_healthz_answers_a_head_probe_as_it_answers_get(client):
    """Uptime monitors often probe with HEAD: same status, no body."""
    get, head = client.get("/healthz"), client.head("/healthz")
    assert head.status_code == get.status_code == 503
    assert head.content == b""
    assert client.post("/healthz").status_code == 405


def test_healthz_is_200_with_a_live_scheduler_and_warns_on_missing_data(staff_client):
    SchedulerState.record_holder("web1:7", "apscheduler")
    response = staff_client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "warn"
    assert body["components"]["scheduler"]["status"] == "ok"
    assert body["components"]["data_freshness"]["status"] == "warn"


def test_healthz_fails_on_a_stale_heartbeat(staff_client):
    SchedulerState.record_holder("web1:7", "apscheduler")
    SchedulerState.objects.update(holder_seen_at=timezone.now() - timedelta(minutes=5))
    response = staff_client.get("/healthz")
    assert response.status_code == 503
    assert "heartbeat is 300s old" in response.json()["components"]["scheduler"]["message"]


def test_healthz_carries_no_secret(staff_client, settings):
    settings.SCHEDULER_BACKEND = "celery"
    settings.CELERY_BROKER_URL = "redis://:hunter2-secret@127.0.0.1:1/0"
    response = staff_client.get("/healthz")
    text = response.content.decode()
    assert response.json()["components"]["broker"]["status"] == "fail"
    assert "hunter2" not in text and settings.SECRET_KEY not in text and "redis://" not in text


def test_metrics_refuse_without_a_configured_token(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", headers={"Authorization": "Bearer "})
    assert response.status_code == 403
    assert "METRICS_TOKEN" in response.content.decode()


def test_metrics_need_the_right_bearer_token(client, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    response = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN not in response.content.decode()


def test_runs_are_counted_by_job_and_status_with_histograms(scrape, settings):
    settings.SCHEDULER_FAILING_AFTER = 99
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=60)
    now = timezone.now().replace(microsecond=0)
    run_job("probe_1", slot=now)
    run_job("probe_1", slot=now)  # fired twice: suppressed
    Schedule.objects.create(job_id="probe_2", task="probe", interval_seconds=60)
    run_job("probe_2", slot=now)  # schedules added in admin share one bounded series
    claims.record_missed("probe_1", now - timedelta(minutes=10), now - timedelta(minutes=5), 6, "x")
    found = scrape()
    executions = samples(found["job_executions"], "job_executions_total")
    assert executions[(("job_name", "other"), ("status", "succeeded"))] == 2
    assert executions[(("job_name", "other"), ("status", "missed"))] == 1
    assert samples(found["job_missed_slots"])[(("job_name", "other"),)] == 6
    assert samples(found["job_duplicates_suppressed"])[(("job_name", "other"),)] == 1
    duration = samples(found["job_duration_seconds"], "job_duration_seconds_count")
    assert duration[(("job_name", "other"),)] == 2
    buckets = samples(found["job_start_lag_seconds"], "job_start_lag_seconds_bucket")
    assert buckets[(("job_name", "other"), ("le", "+Inf"))] == 2
    active = samples(found["scheduler_active_schedules"])
    assert active[(("kind", "builtin"),)] == 6 and active[(("kind", "strategy"),)] == 0
    assert samples(found["scheduler_leader"])[(("backend", "apscheduler"),)] == 0


def test_strategies_share_one_series_unless_asked(scrape, settings):
    for name in ["A", "B"]:
        strategy = Strategy.objects.create(name=name, interval_seconds=60)
        JobCounter.objects.add(strategy.job_id, [("runs", "succeeded", 2)])
    series = samples(scrape()["job_executions"], "job_executions_total")
    assert series == {(("job_name", "strategy"), ("status", "succeeded")): 4}
    settings.METRICS_PER_STRATEGY = True
    series = samples(scrape()["job_executions"], "job_executions_total")
    assert len(series) == 2 and set(series.values()) == {2}


def test_cleanup_never_decreases_a_counter(scrape):
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=60)
    run_job("probe_1", slot=timezone.now().replace(microsecond=0) - timedelta(seconds=5))
    JobRun.objects.update(scheduled_at=timezone.now() - timedelta(days=90))
    from scheduler.jobs import cleanup_old_data

    cleanup_old_data()
    assert not JobRun.objects.filter(job_id="probe_1").exists()
    executions = samples(scrape()["job_executions"], "job_executions_total")
    assert executions[(("job_name", "other"), ("status", "succeeded"))] == 1


def test_every_process_answers_the_same_totals(scrape, client, settings):
    """The figures are read from the database: a second, fresh registry (another
    process, another dyno) gives the same text."""
    JobCounter.objects.add("health_check", [("runs", "failed", 3)])
    first = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).content
    second = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).content
    strip = [line for line in first.splitlines() if b"heartbeat_age" not in line]
    assert strip == [line for line in second.splitlines() if b"heartbeat_age" not in line]
    assert b'job_executions_total{job_name="health_check",status="failed"} 3.0' in first
