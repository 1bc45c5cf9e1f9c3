"""A fresh demo tells the truth from its first minute: the scheduler's first collection
refreshes the health report, so `/healthz` does not say "no candles" for an hour."""

import pytest
from django.core.management import call_command

from scheduler.models import HealthReport, JobRun
from tests import support

pytestmark = pytest.mark.subprocess


def freshness(report: HealthReport | None) -> str | None:
    check = next(
        (c for c in (report.checks if report else []) if c["name"] == "data freshness"), None
    )
    return check and check["status"]


def test_a_fresh_demo_is_healthy_after_its_first_collection(
    scheduler_process, client, django_user_model, monkeypatch
):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "demo-password-for-tests")
    call_command("seed_demo", verbosity=0)
    scheduler_process()
    support.wait_until(
        lambda: JobRun.objects.filter(job_id="collect_crypto_data", status="succeeded").exists(),
        30,
        "the first collection",
    )
    support.wait_until(lambda: freshness(HealthReport.latest()) == "ok", 10, "a fresh report")
    client.force_login(django_user_model.objects.create_superuser("root", "", "pw"))
    body = client.get("/healthz").json()
    assert body["components"]["data_freshness"]["status"] == "ok"
    assert "series fresh" in body["components"]["data_freshness"]["message"]
