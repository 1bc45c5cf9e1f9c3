"""Configuration mistakes: a check error with an id and hint, or one readable line."""

import json
import secrets
import subprocess
import sys

import pytest

from tests.support import BASE_DIR, subprocess_env

from .heroku import production_env


def manage_check(**env):
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "env,expected",
    [
        ({"SCHEDULER_BACKEND": "cron"}, "scheduler.E001"),
        ({"SCHEDULER_BACKEND": "celery", "REDIS_URL": ""}, "scheduler.E006"),
        ({"REDIS_URL": "rediss://:secret@redis.example.com:6380/0"}, "scheduler.E007"),
        ({"SCHEDULER_AUTOSTART": "ture"}, "scheduler.E003"),
        ({"SCHEDULER_TIMEZONE": "Mars/Olympus"}, "scheduler.E004"),
        ({"SCHEDULER_THREADS": "many"}, "scheduler.E005"),
        ({"SCHEDULER_HEARTBEAT_SECONDS": "0"}, "scheduler.E005"),
    ],
)
def test_a_malformed_scheduler_setting_fails_check_with_an_id_and_hint(db, env, expected):
    result = manage_check(**env)
    assert result.returncode != 0
    assert expected in result.stderr and "HINT:" in result.stderr


@pytest.mark.parametrize(
    "env,line",
    [
        ({"DEBUG": "maybe"}, "Configuration error: DEBUG must be true or false, not 'maybe'"),
        ({"DATABASE_URL": "nosuchdb://x"}, "Configuration error: DATABASE_URL"),
        ({"LOG_LEVEL": "loud"}, "Configuration error: LOG_LEVEL must be DEBUG, INFO"),
        ({"CONN_MAX_AGE": "forever"}, "Configuration error: CONN_MAX_AGE must be a whole"),
    ],
)
def test_other_malformed_values_stop_start_up_naming_the_variable(db, env, line):
    result = manage_check(**env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(line)
    assert "Traceback" not in result.stderr


def test_the_default_configuration_passes_check(db):
    result = manage_check()
    assert result.returncode == 0, result.stderr


def test_the_celery_backend_passes_check_and_warns_that_autostart_is_ignored(db):
    celery = {"SCHEDULER_BACKEND": "celery", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    assert manage_check(**celery).returncode == 0
    result = manage_check(**celery, SCHEDULER_AUTOSTART="true")
    assert result.returncode == 0
    assert "scheduler.W001" in result.stderr and "HINT:" in result.stderr


def test_a_tls_redis_url_with_a_certificate_policy_passes_check(db):
    result = manage_check(
        REDIS_URL="rediss://:secret@redis.example.com:6380/0", REDIS_SSL_CERT_REQS="none"
    )
    assert result.returncode == 0, result.stderr
    assert "secret" not in result.stderr


def heroku_env() -> dict[str, str]:
    """The config vars a Heroku app made from app.json gets: its values, a fresh secret
    where it asks Heroku to generate one (64 hex digits), and the add-ons' URLs."""
    app = json.loads((BASE_DIR / "app.json").read_text())
    env = {
        name: secrets.token_hex(32) if spec.get("generator") == "secret" else spec["value"]
        for name, spec in app["env"].items()
    }
    env["DATABASE_URL"] = "postgres://u1:p4ss@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d1"
    env["REDIS_URL"] = "rediss://:r3dis@ec2-5-6-7-8.compute-1.amazonaws.com:6380"
    return env


def manage(*args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=production_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("backend", ["apscheduler", "celery"])
def test_the_app_json_config_passes_the_deploy_check_with_no_warning(backend):
    env = {**heroku_env(), "SCHEDULER_BACKEND": backend}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_is_https_only_with_tls_to_the_database_and_a_local_run_can_opt_out():
    show = (
        "from django.conf import settings as s; from django.db import connection as c; "
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_HSTS_SECONDS, c.settings_dict['OPTIONS']['sslmode'], "
        "c.settings_dict['CONN_MAX_AGE'], c.settings_dict['CONN_HEALTH_CHECKS'])"
    )
    heroku = manage("shell", "-v", "0", "-c", show, **heroku_env())
    assert heroku.stdout.split() == ["True", "True", "True", "31536000", "require", "60", "True"]
    local = manage("shell", "-v", "0", "-c", show, **heroku_env(), SECURE_SSL_REDIRECT="false")
    assert local.stdout.split()[:4] == ["False", "False", "False", "0"]


def test_hsts_covers_subdomains_and_preload_only_when_switched_on():
    show = (
        "from django.conf import settings as s; "
        "print(s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD)"
    )
    assert manage("shell", "-v", "0", "-c", show, **heroku_env()).stdout.split() == [
        "False",
        "False",
    ]
    on = {"SECURE_HSTS_INCLUDE_SUBDOMAINS": "true", "SECURE_HSTS_PRELOAD": "true"}
    assert manage("shell", "-v", "0", "-c", show, **heroku_env(), **on).stdout.split() == [
        "True",
        "True",
    ]


@pytest.mark.django_db
def test_every_response_carries_the_content_security_policy(client, settings):
    for path in ("/accounts/login/", "/healthz", "/admin/login/", "/api/v1/jobs"):
        policy = client.get(path)["Content-Security-Policy"]
        assert policy == settings.CONTENT_SECURITY_POLICY
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
