"""Secrets never leave their place: a Celery-backend hub (worker and beat as real
processes, Redis with a password, PostgreSQL) runs a market-data job that fails against
an exchange with credentials stored, and a job that fails outright; then every log line,
every run record, every message that crossed Redis and the admin pages are searched for
the secret key, the database and Redis passwords and the exchange API key and secret."""

import base64
import codecs
import json
import re
import secrets

import pytest
from cryptography.fernet import Fernet
from django_celery_beat.models import PeriodicTask

from market_data.models import Exchange, Symbol
from scheduler.models import JobRun, Schedule
from tests import support

pytestmark = [pytest.mark.subprocess, pytest.mark.postgres_only]

RUN_BOUND = 60


@pytest.fixture
def secrets_in_scope(redis_with_password, settings):
    fernet_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = [fernet_key]
    settings.SCHEDULER_BACKEND = "celery"
    found = {
        "SECRET_KEY": f"sweep-key-{secrets.token_urlsafe(32)}",
        "database password": f"dbpw{secrets.token_hex(12)}",
        "Redis password": redis_with_password.password,
        "exchange API key": f"apikey{secrets.token_hex(12)}",
        "exchange secret": f"apisecret{secrets.token_hex(12)}",
        "encryption key": fernet_key,
    }
    database_url = support.database_url().replace(
        "postgres@", f"postgres:{found['database password']}@"
    )
    env = support.subprocess_env(
        SCHEDULER_BACKEND="celery",
        REDIS_URL=redis_with_password.url,
        DATABASE_URL=database_url,  # local trust auth ignores the password; it is still sent
        SECRET_KEY=found["SECRET_KEY"],
        FIELD_ENCRYPTION_KEY=fernet_key,
        MARKET_DATA_PROVIDER="ccxt",  # a real exchange client, with the stored credentials
        MARKET_DATA_RETRIES="1",
        LOG_LEVEL="DEBUG",  # the most a deployment could log
    )
    return found, env, redis_with_password


def test_no_secret_reaches_logs_run_records_task_messages_or_admin(secrets_in_scope, admin_client):
    found, env, redis = secrets_in_scope
    Schedule.objects.all().delete()
    exchange = Exchange.objects.create(ccxt_id="binance", enabled=True)
    exchange.set_credentials(found["exchange API key"], found["exchange secret"])
    exchange.save()
    Symbol.objects.create(exchange=exchange, symbol="BTC/USDT", tracked=True, timeframes="1m")
    for task in ("update_exchange_symbols", "collect_crypto_data"):
        Schedule.objects.create(job_id=task, task=task, interval_seconds=3600)
    Schedule.objects.create(
        job_id="probe_1",
        task="probe",
        interval_seconds=3600,
        max_attempts=2,
        retry_backoff_seconds=0,
        kwargs={"fail": True},
    )
    monitor = support.Process(["redis-cli", "-p", str(redis.port), *redis.auth_args(), "MONITOR"])
    processes = [monitor]
    try:
        monitor.wait_for_line("^OK$", timeout=10)
        processes.append(support.celery_worker(env))
        processes.append(support.manage("runscheduler", env=env))
        support.wait_until(
            lambda: JobRun.objects.filter(finished_at__isnull=False).count() == 3,
            RUN_BOUND,
            "the three runs to finish",
        )
    finally:
        for process in reversed(processes):
            process.stop()

    runs = {run.job_id: run for run in JobRun.objects.all()}
    assert runs["probe_1"].status == JobRun.FAILED and runs["probe_1"].attempts
    assert "1 error" in runs["update_exchange_symbols"].summary
    assert (
        "1 errors" in runs["collect_crypto_data"].summary
        or "1 error" in runs["collect_crypto_data"].summary
    )
    messages = task_messages(monitor.output)
    assert len(messages) >= 3  # every run crossed Redis
    assert PeriodicTask.objects.filter(name="probe_1").exists()  # the mirror was written

    places = {
        "worker and beat logs": "\n".join(p.output for p in processes[1:]),
        "run records": json.dumps(list(JobRun.objects.values()), default=str),
        "beat's task table": json.dumps(list(PeriodicTask.objects.values()), default=str),
        "task messages": "\n".join(messages),
        "admin": admin_pages(admin_client, exchange),
    }
    # The failures were logged, with what a reader needs (the exchange, the error).
    assert "Refreshing binance failed" in places["worker and beat logs"]
    assert "probe probe_1 asked to fail" in places["worker and beat logs"]
    leaks = [
        f"{what} in {where}"
        for where, text in places.items()
        for what, secret in found.items()
        if secret in text
    ]
    assert leaks == []


def task_messages(monitor_output: str) -> list[str]:
    """Each message published to Redis, as its JSON envelope plus its decoded body."""
    messages = []
    for line in monitor_output.splitlines():
        match = re.search(r'"LPUSH" "[^"]+" "(.*)"$', line)
        if not match:
            continue
        envelope = json.loads(codecs.decode(match[1], "unicode_escape"))
        body = base64.b64decode(envelope["body"]).decode()
        messages.append(f"{json.dumps(envelope)}\n{body}")
    return messages


def admin_pages(client, exchange) -> str:
    pages = [
        f"/admin/market_data/exchange/{exchange.pk}/change/",
        "/admin/market_data/exchange/",
        "/admin/scheduler/jobrun/",
        "/admin/",
    ]
    text = []
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        text.append(response.content.decode())
    return "\n".join(text)


def test_error_reports_mask_passwords_in_connection_urls(settings, rf):
    import sys

    from django.views.debug import ExceptionReporter

    settings.SECRET_KEY = "signing-key-that-must-stay-home"
    settings.REDIS_URL = "rediss://:r3dis-pw-in-url@redis.example.com:6380"
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        report = ExceptionReporter(rf.get("/"), *sys.exc_info(), is_email=True)
        text = report.get_traceback_text() + report.get_traceback_html()
    assert "r3dis-pw-in-url" not in text
    assert "rediss://:********************@redis.example.com:6380" in text
    assert "signing-key-that-must-stay-home" not in text


def test_an_error_while_saving_credentials_mails_the_admins_without_them(
    admin_client, settings, monkeypatch, mailoutbox
):
    from market_data import crypto

    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]

    def broken_encrypt(credentials):
        raise RuntimeError("encryption backend unavailable")

    monkeypatch.setattr(crypto, "encrypt", broken_encrypt)
    admin_client.raise_request_exception = False
    key, secret = f"apikey{secrets.token_hex(8)}", f"apisecret{secrets.token_hex(8)}"
    response = admin_client.post(
        "/admin/market_data/exchange/add/",
        {
            "ccxt_id": "binance",
            "name": "Binance",
            "enabled": "on",
            "api_key": key,
            "api_secret": secret,
        },
    )
    assert response.status_code == 500
    assert len(mailoutbox) == 1
    report = mailoutbox[0].body + "".join(str(a[0]) for a in mailoutbox[0].alternatives)
    assert "encryption backend unavailable" in report  # the report is useful...
    assert key not in report and secret not in report  # ...and keeps the credentials home
