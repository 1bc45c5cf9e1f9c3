"""No page or response carries a secret: the Django secret key, the metrics token, API
tokens (raw or digest), database or broker credentials."""

import pytest
from django.test import Client

from scheduler.models import JobRun, SchedulerState
from scheduler.web import tokens

pytestmark = pytest.mark.django_db

METRICS_TOKEN = "metrics-secret-for-tests"


def test_no_page_or_response_carries_a_secret(settings, django_user_model, strategy):
    settings.SECRET_KEY = "a-long-secret-key-only-for-the-no-secrets-test"
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.CELERY_BROKER_URL = "redis://:broker-password@127.0.0.1:1/0"
    boss = django_user_model.objects.create_superuser("boss", "", "pw-tests-only")
    token, raw = tokens.issue(boss, "cli")
    strategy.start()
    SchedulerState.record_holder("web1:1", "apscheduler")
    JobRun.objects.create(job_id=strategy.job_id, scheduled_at=strategy.created_at, status="failed")
    browser = Client()
    browser.force_login(boss)
    script = Client(headers={"Authorization": f"Bearer {raw}"})
    scraper = Client(headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    responses = [
        browser.get("/jobs/"),
        browser.get(f"/jobs/{strategy.job_id}/"),
        browser.get("/admin/scheduler/apitoken/"),
        script.get("/api/v1/jobs"),
        script.post(f"/api/v1/strategies/{strategy.pk}/stop"),
        Client().get("/healthz"),
        Client().get("/metrics"),
        scraper.get("/metrics"),
    ]
    secrets = [settings.SECRET_KEY, METRICS_TOKEN, raw, token.digest, "broker-password"]
    for response in responses:
        assert response.status_code in (200, 401, 503), response.request["PATH_INFO"]
        text = response.content.decode() + str(response.headers)
        for secret in secrets:
            assert secret not in text, (response.request["PATH_INFO"], secret[:6])


def test_tracebacks_are_shown_to_managers_of_system_jobs_only(django_user_model):
    """A traceback may quote what a library put in an exception (a URL, a response body):
    a built-in job's runs are read by those who manage system jobs; anyone else sees the
    job's state only, neither the run's summary nor its traceback."""
    from django.contrib.auth.models import Permission
    from django.utils import timezone

    JobRun.objects.create(
        job_id="health_check",
        scheduled_at=timezone.now(),
        status="failed",
        summary="failed: RuntimeError",
        traceback="Traceback ...\nRuntimeError: GET https://user:hunter2@exchange.example/x",
    )
    manager = django_user_model.objects.create_user("ops", "", "pw", is_staff=True)
    manager.user_permissions.add(Permission.objects.get(codename="manage_system_jobs"))
    pages = {}
    for user in (
        manager,
        django_user_model.objects.create_user("staff", "", "pw", is_staff=True),
        django_user_model.objects.create_user("viewer", "", "pw"),
    ):
        browser = Client()
        browser.force_login(user)
        response = browser.get("/jobs/health_check/")
        assert response.status_code == 200
        pages[user.username] = response.content.decode()
    assert "hunter2" in pages["ops"]
    for other in ("staff", "viewer"):
        assert "hunter2" not in pages[other] and "failed: RuntimeError" not in pages[other]
