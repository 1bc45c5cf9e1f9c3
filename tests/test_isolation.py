"""The isolation matrix: staff member B, holding every model permission of the hub's apps
(but not "manage system jobs" nor "manage market data"), tries staff member A's objects
and the system jobs through every admin page, status page and endpoint. Each attempt is
refused or finds nothing, and a snapshot of the tables shows nothing changed."""

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from market_data.models import Exchange, Symbol
from scheduler.models import (
    ApiToken,
    HealthReport,
    JobHealth,
    JobRun,
    RunRequest,
    Schedule,
    SchedulerState,
)
from scheduler.web import tokens
from strategies.models import Strategy

pytestmark = pytest.mark.django_db

SECRET = "A-SECRET-SUMMARY"
SYSTEM_SECRET = "SYSTEM-SECRET-SUMMARY"
MODELS = (Schedule, JobRun, RunRequest, JobHealth, ApiToken, Strategy, HealthReport, Symbol)


def snapshot() -> dict:
    return {
        model.__name__: sorted(map(repr, model.objects.order_by("pk").values())) for model in MODELS
    } | {"changes": SchedulerState.current()}


@pytest.fixture
def team(django_user_model):
    everything = Permission.objects.filter(
        content_type__app_label__in=["scheduler", "strategies", "market_data", "django_celery_beat"]
    ).exclude(codename__in=["manage_system_jobs", "manage_market_data"])
    users = {}
    for name in ("a", "b"):
        users[name] = django_user_model.objects.create_user(name, is_staff=True)
        users[name].user_permissions.set(everything)
    users["c"] = django_user_model.objects.create_user("c")  # not staff
    mine = Strategy.objects.create(name="A secret plan", owner=users["a"], is_active=True)
    Strategy.objects.create(name="B's plan", owner=users["b"], is_active=True)
    now = timezone.now()
    for job_id, summary in ((mine.job_id, SECRET), ("health_check", SYSTEM_SECRET)):
        JobRun.objects.create(
            job_id=job_id,
            scheduled_at=now,
            status=JobRun.FAILED,
            summary=summary,
            traceback=f"Traceback: {summary}",
            owner="web-7:4242",
            finished_at=now,
        )
        RunRequest.objects.create(job_id=job_id, slot=now)
        JobHealth.objects.create(job_id=job_id, state=JobHealth.FAILING, reason=summary)
    token, _ = tokens.issue(users["a"], "A's deploy script")
    HealthReport.record([{"name": "database", "status": "ok", "message": "fine"}])
    exchange = Exchange.objects.get_or_create(ccxt_id="simulated")[0]
    Symbol.objects.create(exchange=exchange, symbol="ETH/USDT", tracked=False)
    return {
        **users,
        "job": Schedule.objects.get(job_id=mine.job_id),
        "run": JobRun.objects.get(job_id=mine.job_id),
        "system_run": JobRun.objects.get(job_id="health_check"),
        "builtin": Schedule.objects.get(job_id="health_check"),
        "token": token,
        "symbol": Symbol.objects.get(symbol="ETH/USDT"),
        "exchange": exchange,
    }


@pytest.fixture
def as_b(client, team):
    client.force_login(team["b"])
    return client


def text(response) -> str:
    return response.content.decode()


def test_admin_lists_search_and_filters_show_b_nothing_of_a(as_b, team):
    job = team["job"].job_id
    before = snapshot()
    pages = [
        "/admin/scheduler/schedule/",
        f"/admin/scheduler/schedule/?q={job}",
        "/admin/scheduler/jobrun/",
        f"/admin/scheduler/jobrun/?q={SECRET}",
        f"/admin/scheduler/jobrun/?job_id={job}",
        "/admin/scheduler/jobrun/?job_id=health_check",
        "/admin/scheduler/apitoken/",
        "/admin/scheduler/apitoken/?q=deploy",
        "/admin/strategies/strategy/",
        "/admin/strategies/strategy/?q=secret",
    ]
    for url in pages:
        page = text(as_b.get(url))
        # The search box and the list's links show back what was typed: what matters is
        # the results and the filters' choices.
        for value in parse_qs(urlsplit(url).query).values():
            page = re.sub(f'(=|value="){re.escape(value[0])}(?=["&])', "=", page)
        for secret in (
            job,
            SECRET,
            SYSTEM_SECRET,
            "A secret plan",
            "deploy script",
            "health_check",
        ):
            assert secret not in page, (url, secret)
    # Nor does a filter sidebar offer A's values, nor the other users' names.
    page = text(as_b.get("/admin/scheduler/apitoken/"))
    assert "?user__id__exact=" not in page
    assert snapshot() == before


@pytest.mark.parametrize("what", ["job", "run", "system_run", "builtin", "token"])
def test_change_history_and_delete_pages_of_a_or_system_objects_are_refused(as_b, team, what):
    obj = team[what]
    base = f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}"
    before = snapshot()
    for page in ("change", "history", "delete"):
        response = as_b.get(f"{base}/{page}/")
        assert response.status_code in (302, 403, 404), (page, response.status_code)
        assert SECRET not in text(response) and SYSTEM_SECRET not in text(response)
    # Posting a change or a deletion anyway changes nothing.
    as_b.post(f"{base}/change/", {"description": "taken", "timeout_seconds": "1"})
    as_b.post(f"{base}/delete/", {"post": "yes"})
    assert snapshot() == before


@pytest.mark.parametrize(
    "url,action,target",
    [
        ("/admin/scheduler/schedule/", "run_now", "job"),
        ("/admin/scheduler/schedule/", "pause_jobs", "job"),
        ("/admin/scheduler/schedule/", "run_now", "builtin"),
        ("/admin/scheduler/schedule/", "pause_jobs", "builtin"),
        ("/admin/scheduler/schedule/", "delete_selected", "job"),
        ("/admin/scheduler/apitoken/", "delete_selected", "token"),
        ("/admin/market_data/symbol/", "track", "symbol"),
        ("/admin/market_data/exchange/", "delete_selected", "exchange"),
    ],
)
def test_actions_with_crafted_ids_change_nothing(as_b, team, url, action, target):
    before = snapshot()
    as_b.post(url, {"action": action, "_selected_action": [str(team[target].pk)], "post": "yes"})
    assert snapshot() == before


def test_b_cannot_add_system_jobs_or_change_shared_market_data(as_b, team):
    before = snapshot()
    assert as_b.get("/admin/scheduler/schedule/add/").status_code == 403
    assert as_b.get("/admin/market_data/exchange/add/").status_code == 403
    page = as_b.get(f"/admin/market_data/symbol/{team['symbol'].pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in text(page)  # view only
    as_b.post(f"/admin/market_data/symbol/{team['symbol'].pk}/change/", {"tracked": "on"})
    assert snapshot() == before


def test_the_mirrored_beat_rows_and_health_reports_are_not_for_b(as_b):
    for url in (
        "/admin/django_celery_beat/periodictask/",
        "/admin/django_celery_beat/intervalschedule/",
        "/admin/django_celery_beat/crontabschedule/",
        "/admin/scheduler/healthreport/",
    ):
        assert as_b.get(url).status_code == 403, url
    index = text(as_b.get("/admin/"))
    assert "Periodic tasks" not in index and "Health reports" not in index


def test_autocomplete_offers_nothing(as_b):
    response = as_b.get(
        "/admin/autocomplete/",
        {"app_label": "strategies", "model_name": "strategy", "field_name": "owner", "term": "a"},
    )
    assert response.status_code == 403


def test_status_pages_and_the_api_hide_a_from_b(as_b, team):
    job = team["job"].job_id
    before = snapshot()
    assert job not in text(as_b.get("/jobs/"))
    assert as_b.get(f"/jobs/{job}/").status_code == 404
    for verb in ("run-now", "pause", "resume"):
        assert as_b.post(f"/jobs/{job}/{verb}").status_code == 404
        response = as_b.post(f"/api/v1/jobs/{job}/{verb}")
        assert response.status_code == 404
        assert response.json() == {"error": f"job {job} does not exist"}
    listed = as_b.get("/api/v1/jobs").json()["jobs"]
    assert job not in [row["id"] for row in listed]
    strategy_id = team["job"].job_id.removeprefix("strategy_")
    assert as_b.get(f"/strategies/{strategy_id}/").status_code == 404
    for verb in ("start", "stop"):
        response = as_b.post(f"/api/v1/strategies/{strategy_id}/{verb}")
        assert response.status_code == 404, response.content
    assert snapshot() == before


def test_system_jobs_show_their_state_to_b_but_not_their_runs_or_buttons(as_b, team):
    before = snapshot()
    listed = {row["id"] for row in as_b.get("/api/v1/jobs").json()["jobs"]}
    assert "health_check" in listed
    page = text(as_b.get("/jobs/health_check/"))
    assert "failing" in page  # its state
    assert SYSTEM_SECRET not in page and "web-7:4242" not in page
    assert 'id="runs-hidden"' in page and 'id="controls"' not in page
    assert as_b.post("/jobs/health_check/pause").status_code == 403
    response = as_b.post("/api/v1/jobs/health_check/run-now")
    assert response.status_code == 403
    assert snapshot() == before


def test_a_manager_of_system_jobs_reads_and_runs_them_but_still_not_as_strategies(client, team):
    b = team["b"]
    b.user_permissions.add(Permission.objects.get(codename="manage_system_jobs"))
    client.force_login(b)
    page = text(client.get("/jobs/health_check/"))
    assert SYSTEM_SECRET in page and 'id="controls"' in page
    assert client.post("/api/v1/jobs/health_check/run-now").status_code == 200
    assert client.get("/admin/scheduler/healthreport/").status_code == 200
    assert team["job"].job_id not in text(client.get("/admin/scheduler/jobrun/"))
    assert client.get(f"/jobs/{team['job'].job_id}/").status_code == 404


def test_a_non_staff_user_sees_no_owners_and_no_admin(client, team):
    client.force_login(team["c"])
    assert client.get("/admin/scheduler/schedule/").status_code == 302  # to the login
    page = text(client.get("/jobs/"))
    assert "web-7" not in page
    SchedulerState.record_holder("web-7:4242", "apscheduler")
    page = text(client.get("/jobs/health_check/"))
    assert "web-7:4242" not in page and "Scheduler: running" in page


def test_a_owns_the_same_things_b_was_refused(client, team):
    """The matrix's other half: the refusals above are not a page that shows no one
    anything."""
    client.force_login(team["a"])
    job = team["job"].job_id
    assert job in text(client.get("/admin/scheduler/schedule/"))
    assert SECRET in text(client.get(f"/admin/scheduler/jobrun/?job_id={job}"))
    assert SECRET in text(client.get(f"/jobs/{job}/"))
    assert "deploy script" in text(client.get("/admin/scheduler/apitoken/"))
    response = client.post(f"/api/v1/jobs/{job}/run-now")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "url",
    [
        "/admin/scheduler/jobrun/?job_id=%00",
        "/admin/scheduler/jobrun/?q=%00",
        "/admin/scheduler/schedule/?q=a%00b",
        "/admin/scheduler/jobrun/?status=%00",
        "/admin/scheduler/jobrun/?scheduled_at__year=abc",
        "/admin/scheduler/jobrun/?scheduled_at__gte=notadate",
        "/admin/strategies/strategy/?q=%00",
        "/admin/market_data/candle/?symbol__id__exact=abc",
        "/admin/market_data/candle/?symbol__id__exact=99999999999999999999",
        "/jobs/?q=%00",
        "/api/v1/jobs?q=%00",
    ],
)
def test_unparseable_filter_and_search_values_never_answer_500(staff_client, url):
    response = staff_client.get(url)
    assert response.status_code in (200, 302, 400), response.status_code
    if "%00" in url:
        assert response.status_code == 400
        if url.startswith("/api/"):
            assert json.loads(response.content) == {
                "error": "NUL characters are not accepted in a query"
            }
