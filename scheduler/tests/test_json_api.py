"""The JSON API: the guide's start/stop, `GET /api/v1/jobs`, the job controls, tokens,
and every error status with its message."""

import json

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client

from scheduler.models import ApiToken, JobHealth, RunRequest, Schedule
from scheduler.web import tokens
from strategies.models import Strategy

pytestmark = pytest.mark.django_db


def post_json(client, url, body, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def boss(django_user_model):
    return django_user_model.objects.create_superuser("boss", "", "pw-tests-only")


@pytest.fixture
def script(boss):
    """A client that authenticates with an API token only (and enforces CSRF, which a
    token caller does not need)."""
    _, raw = tokens.issue(boss, "deploy script")
    return Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {raw}"})


def test_a_token_starts_a_strategy_with_a_body_without_csrf(script, strategy):
    response = post_json(
        script,
        f"/api/v1/strategies/{strategy.pk}/start",
        {"interval_seconds": 300, "start_immediately": False},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["active"] is True and body["interval_seconds"] == 300
    strategy.refresh_from_db()
    assert strategy.is_active and not strategy.start_immediately
    entry = LogEntry.objects.get()
    assert entry.user.username == "boss" and entry.change_message == "Started (API)"
    assert entry.get_edited_object() == strategy
    assert ApiToken.objects.get().last_used_at is not None


def test_stop_is_logged_and_a_second_stop_is_a_conflict(script, strategy):
    strategy.start()
    assert script.post(f"/api/v1/strategies/{strategy.pk}/stop").status_code == 200
    assert LogEntry.objects.get().change_message == "Stopped (API)"
    response = script.post(f"/api/v1/strategies/{strategy.pk}/stop")
    assert response.status_code == 409
    assert response.json() == {"error": f"strategy {strategy.pk} is not running"}


def test_starting_a_running_strategy_is_a_conflict(script, strategy):
    strategy.start()
    response = script.post(f"/api/v1/strategies/{strategy.pk}/start")
    assert response.status_code == 409
    assert response.json() == {"error": f"strategy {strategy.pk} is already running"}


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"interval_seconds": "300"}, {"interval_seconds": ["must be a whole number"]}),
        ({"interval_seconds": True}, {"interval_seconds": ["must be a whole number"]}),
        ({"start_immediately": "yes"}, {"start_immediately": ["must be true or false"]}),
        (
            {"colour": "red"},
            {"colour": ["unknown field; allowed: interval_seconds, start_immediately"]},
        ),
        ([1, 2], {"body": ["expected a JSON object"]}),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(script, strategy, body, fields):
    response = post_json(script, f"/api/v1/strategies/{strategy.pk}/start", body)
    assert response.status_code == 400
    assert response.json() == {"error": "bad request body", "fields": fields}
    strategy.refresh_from_db()
    assert not strategy.is_active


def test_an_interval_out_of_range_is_a_400_and_nothing_changes(script, strategy):
    response = post_json(script, f"/api/v1/strategies/{strategy.pk}/start", {"interval_seconds": 0})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid values" and "interval_seconds" in body["fields"]
    strategy.refresh_from_db()
    assert not strategy.is_active and strategy.interval_seconds == 1


def test_malformed_json_is_a_400(script, strategy):
    response = script.post(
        f"/api/v1/strategies/{strategy.pk}/start", "{nope", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"body": ["not valid JSON"]}


def test_a_wrong_or_revoked_token_is_a_401(boss, strategy):
    _, raw = tokens.issue(boss, "old")
    wrong = Client(headers={"Authorization": "Bearer altar_not-a-token"})
    response = wrong.post(f"/api/v1/strategies/{strategy.pk}/start")
    assert response.status_code == 401 and response.json() == {"error": "invalid API token"}
    assert response["WWW-Authenticate"] == "Bearer"
    ApiToken.objects.all().delete()
    revoked = Client(headers={"Authorization": f"Bearer {raw}"})
    assert revoked.get("/api/v1/jobs").status_code == 401


def test_an_inactive_users_token_is_a_401(boss, script):
    boss.is_active = False
    boss.save()
    assert script.get("/api/v1/jobs").status_code == 401


def test_anonymous_is_401_and_wrong_method_is_405_in_json(client, strategy):
    response = client.get("/api/v1/jobs")
    assert response.status_code == 401 and "authentication required" in response.json()["error"]
    response = client.get(f"/api/v1/strategies/{strategy.pk}/start")
    assert response.status_code == 405
    assert response.json() == {"error": "method GET not allowed; use POST"}
    assert response["Allow"] == "POST"


def test_a_session_post_without_csrf_is_a_403_in_json(boss, strategy):
    client = Client(enforce_csrf_checks=True)
    client.force_login(boss)
    response = client.post(f"/api/v1/strategies/{strategy.pk}/start")
    assert response.status_code == 403
    assert response.json()["error"].startswith("CSRF check failed")
    strategy.refresh_from_db()
    assert not strategy.is_active


def test_a_form_post_carrying_only_its_csrf_token_is_a_post_without_a_body(boss, strategy):
    """As a plain HTML form sends it: the token as a form field, no other field."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(boss)
    client.get("/jobs/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        f"/api/v1/strategies/{strategy.pk}/start", {"csrfmiddlewaretoken": token}
    )
    assert response.status_code == 200, response.content
    strategy.refresh_from_db()
    assert strategy.is_active


def test_a_non_superuser_acts_only_on_their_own_strategies(client, django_user_model):
    owner = django_user_model.objects.create_user("owner", password="pw", is_staff=True)
    owner.user_permissions.add(Permission.objects.get(codename="change_strategy"))
    other = django_user_model.objects.create_user("other", password="pw")
    mine = Strategy.objects.create(name="Mine", owner=owner)
    theirs = Strategy.objects.create(name="Theirs", owner=other)
    _, raw = tokens.issue(owner, "cli")
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    assert api.post(f"/api/v1/strategies/{mine.pk}/start").status_code == 200
    response = api.post(f"/api/v1/strategies/{theirs.pk}/start")
    assert response.status_code == 404
    assert response.json() == {"error": f"strategy {theirs.pk} does not exist"}
    listed = [job["id"] for job in api.get("/api/v1/jobs").json()["jobs"]]
    assert mine.job_id in listed and theirs.job_id not in listed


def test_the_job_list_in_json(script, strategy):
    strategy.start()
    JobHealth.objects.create(job_id="health_check", state=JobHealth.FAILING, failures_in_a_row=4)
    body = script.get("/api/v1/jobs").json()
    assert body["count"] == 5 and body["page"] == 1 and body["pages"] == 1
    jobs = {job["id"]: job for job in body["jobs"]}
    assert jobs[strategy.job_id]["enabled"] is True and jobs[strategy.job_id]["next_run_time"]
    assert jobs["health_check"]["state"] == "failing"
    assert jobs["cleanup_old_data"]["trigger"] == "cron 0 3 * * * UTC"
    failing = script.get("/api/v1/jobs?state=failing").json()
    assert [job["id"] for job in failing["jobs"]] == ["health_check"]
    response = script.get("/api/v1/jobs?state=sleepy")
    assert response.status_code == 400
    assert response.json()["fields"] == {"state": ["choose one of: ok, late, failing, paused"]}


def test_job_controls_in_json_with_conflicts(script):
    assert script.post("/api/v1/jobs/health_check/pause").json()["enabled"] is False
    response = script.post("/api/v1/jobs/health_check/pause")
    assert response.status_code == 409
    assert response.json() == {"error": "job health_check is already paused"}
    assert script.post("/api/v1/jobs/health_check/run-now").status_code == 409
    assert script.post("/api/v1/jobs/health_check/resume").status_code == 200
    assert script.post("/api/v1/jobs/health_check/run-now").status_code == 200
    assert RunRequest.objects.filter(job_id="health_check").count() == 1
    assert script.post("/api/v1/jobs/nope/pause").status_code == 404
    assert Schedule.objects.get(job_id="health_check").enabled


def test_job_controls_need_the_permission(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    _, raw = tokens.issue(user, "cli")
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    assert api.get("/api/v1/jobs").status_code == 200
    response = api.post("/api/v1/jobs/health_check/pause")
    assert response.status_code == 403
    assert response.json() == {"error": "staff with permission to change this job only"}


def test_tokens_are_stored_hashed_and_shown_once_in_admin(client, boss):
    client.force_login(boss)
    response = client.post("/admin/scheduler/apitoken/add/", {"user": boss.pk, "name": "deploy"})
    assert response.status_code == 200
    raw = response.content.decode().split('<code id="new-token">')[1].split("<")[0]
    assert raw.startswith("altar_") and len(raw) > 40
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get()
    assert token.digest == tokens.digest(raw) and raw not in (token.digest, token.prefix)
    listing = client.get("/admin/scheduler/apitoken/").content.decode()
    detail = client.get(f"/admin/scheduler/apitoken/{token.pk}/change/").content.decode()
    assert raw not in listing and raw not in detail and token.prefix in listing
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    assert api.get("/api/v1/jobs").status_code == 200


def test_a_staff_member_issues_tokens_only_for_themselves(client, boss, django_user_model):
    """A token acts as its user: a staff member allowed to add tokens must not be able to
    mint one for a superuser (and so act as them)."""
    clerk = django_user_model.objects.create_user("clerk", "", "pw-tests-only", is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_apitoken", "view_apitoken"])
    )
    tokens.issue(boss, "boss's own")
    client.force_login(clerk)
    form = client.get("/admin/scheduler/apitoken/add/").content.decode()
    assert 'name="user"' not in form
    response = client.post("/admin/scheduler/apitoken/add/", {"user": boss.pk, "name": "mine"})
    assert response.status_code == 200
    assert ApiToken.objects.get(name="mine").user == clerk
    listing = client.get("/admin/scheduler/apitoken/").content.decode()
    assert "mine" in listing and "boss&#x27;s own" not in listing and "boss's own" not in listing


def test_a_session_caller_with_another_authorization_header_still_needs_csrf(boss, strategy):
    """A proxy's Basic credentials make no token caller: the session is the caller, and a
    POST without the CSRF token changes nothing."""
    browser = Client(enforce_csrf_checks=True, headers={"Authorization": "Basic dXNlcjpwdw=="})
    browser.force_login(boss)
    assert browser.get("/api/v1/jobs").status_code == 200
    response = browser.post(f"/api/v1/strategies/{strategy.pk}/start")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]
    strategy.refresh_from_db()
    assert not strategy.is_active


def test_a_session_caller_with_a_bogus_bearer_token_is_refused(boss, strategy):
    browser = Client(headers={"Authorization": "Bearer not-a-token"})
    browser.force_login(boss)
    assert browser.post(f"/api/v1/strategies/{strategy.pk}/start").status_code == 401
    strategy.refresh_from_db()
    assert not strategy.is_active


def test_a_malformed_id_gets_a_json_404_and_pages_keep_theirs(script, client):
    response = script.post("/api/v1/strategies/abc/start")
    assert response.status_code == 404
    assert response.json() == {"error": "no such endpoint: POST /api/v1/strategies/abc/start"}
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
