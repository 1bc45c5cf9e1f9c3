"""Fault 15 of issue 10, hostile input: admin's forms and actions, the JSON endpoints, the
status pages' buttons and the commands, each fed what no honest client sends.

Each case asserts the refusal the caller sees — a form error on the page, a JSON error
with its status, an admin message, one readable line from a command — and that nothing
was saved: `snapshot()` of every row a change would touch, before and after. Each case
records its row for the fault report: expected = 1 hostile request, ran = 1 if it was
wrongly accepted (so the report's "ran" for fault 15 must be 0).

Not repeated here (tested where the behaviour was built): a 0 or 31 d + 1 interval, cron
hour 25 and step */0 in the Schedule form (scheduler/tests/test_admin.py); interval 0 in
the Strategy change form (strategies/tests/test_admin.py); the start endpoint's bad
bodies, interval 0, malformed JSON, anonymous, wrong token, CSRF and GET cases
(scheduler/tests/test_json_api.py, strategies/tests/test_views.py); `probe --interval 0`
through call_command (scheduler/tests/test_probe_command.py); `backtest`'s bad ids and
dates (strategies/tests/test_backtest.py). The fuzzing of every JSON endpoint is in
test_hostile_json_fuzz.py.
"""

from __future__ import annotations

import html
import io
import json
import re

import pytest
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django_celery_beat.models import PeriodicTask

from scheduler.models import JobRun, RunRequest, Schedule, SchedulerState
from scheduler.tests.test_admin import form_data as schedule_form
from scheduler.web import tokens
from strategies.models import PaperAccount, Strategy
from tests import support

# The rows any accepted change would write: the objects, their jobs, Celery beat's mirror,
# admin history, run requests, the scheduler's change counter and run history.
WATCHED = (
    Strategy,
    Schedule,
    PeriodicTask,
    LogEntry,
    RunRequest,
    SchedulerState,
    JobRun,
    PaperAccount,
)

DEEP = "[" * 500 + "]" * 500  # JSON 500 levels deep
HUGE = str(2**80)


def snapshot() -> dict[str, list[dict]]:
    """Every watched row with every field, by model: equal snapshots mean nothing saved."""
    return {model._meta.label: list(model.objects.order_by("pk").values()) for model in WATCHED}


def assert_nothing_saved(fault_report, before: dict, what: str) -> None:
    """Record the case for the report (ran = 1 when it was wrongly accepted), then assert
    that no watched row changed."""
    after = snapshot()
    changed = [label for label in before if before[label] != after[label]]
    fault_report.record(
        15, expected=1, ran=int(bool(changed)), missed=0, duplicates=[], lost=[], note=what
    )
    assert not changed, f"{what}: saved changes to {changed}"


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def assert_form_refused(response, field: str, message: str) -> None:
    """Admin shows the form again (200) with an error on `field` only — so the form was
    otherwise valid, and `field` alone is why nothing was saved — saying `message`."""
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {field}, errors
    assert message.lower() in page_text(response).lower()


# --- People and targets ----------------------------------------------------------------------
@pytest.fixture
def people(django_user_model):
    """A superuser, staff who may only view (no change permission), and a non-staff user."""
    boss = django_user_model.objects.create_superuser("boss", "", "pw-tests-only")
    clerk = django_user_model.objects.create_user("clerk", "", "pw-tests-only", is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_schedule", "view_strategy"])
    )
    member = django_user_model.objects.create_user("member", "", "pw-tests-only")
    return {"boss": boss, "clerk": clerk, "member": member}


def logged_in(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


def with_token(user) -> Client:
    _, raw = tokens.issue(user, "hostile-input test")
    return Client(headers={"Authorization": f"Bearer {raw}"})


@pytest.fixture
def targets(db):
    """One target per control, in the state where the control would act if allowed: an
    idle strategy (start), a running one (stop, run now), an enabled job (run now, pause)
    and a paused one (resume)."""
    idle = Strategy.objects.create(name="Idle", interval_seconds=60)
    running = Strategy.objects.create(name="Running", interval_seconds=60)
    running.start()
    paused = Schedule.objects.create(
        job_id="paused_probe", task="probe", interval_seconds=60, enabled=False
    )
    return {
        "idle": idle,
        "running": running,
        "enabled": Schedule.objects.get(job_id="health_check"),
        "paused": paused,
    }


# --- Admin forms: intervals, cron fields, JSON --------------------------------------------------
def strategy_form(**overrides) -> dict:
    data = {
        "name": "Hostile",
        "is_active": "on",
        "start_immediately": "on",
        "interval_seconds": "60",
        "exchange": "simulated",
        "symbol": "BTC/USDT",
        "timeframe": "1h",
        "algorithm": "sma_crossover",
        "parameters": "{}",
        "capital": "10000",
        "fee_rate": "0.001",
        "max_failures": "5",
    }
    return {**data, **overrides}


BAD_INTERVALS = [
    ("0", "greater than or equal to 1"),
    ("-5", "greater than or equal to 1"),
    ("1000000000", "less than or equal to 2678400"),
    (HUGE, "less than or equal to 2678400"),
    ("abc", "Enter a whole number"),
    ("1.5", "Enter a whole number"),
    ("NaN", "Enter a whole number"),
]
# (form, value) pairs tested where the forms were built.
TESTED_ELSEWHERE = {("strategy change", "0"), ("schedule add", "0")}


def admin_form_cases():
    for form in ("strategy add", "strategy change", "schedule add", "schedule change"):
        for value, message in BAD_INTERVALS:
            if (form, value) not in TESTED_ELSEWHERE:
                yield pytest.param(form, value, message, id=f"{form} interval {value[:12]}")


@pytest.mark.parametrize("form, value, message", list(admin_form_cases()))
def test_a_bad_interval_in_an_admin_form_is_an_error_on_the_page_and_saves_nothing(
    fault_report, people, targets, form, value, message
):
    """Add and change forms of Strategy and Schedule answer 200 with the error on the
    interval field; the object, its job and the scheduler's counter stay as they were."""
    client = logged_in(people["boss"])
    urls = {
        "strategy add": ("/admin/strategies/strategy/add/", strategy_form),
        "strategy change": (
            f"/admin/strategies/strategy/{targets['idle'].pk}/change/",
            strategy_form,
        ),
        "schedule add": ("/admin/scheduler/schedule/add/", schedule_form),
        # A job that is no strategy's: its interval is edited here.
        "schedule change": (
            f"/admin/scheduler/schedule/{targets['enabled'].pk}/change/",
            lambda **o: schedule_form(**{"job_id": "health_check", "task": "health_check", **o}),
        ),
    }
    url, data = urls[form]
    before = snapshot()
    response = client.post(url, data(interval_seconds=value))
    assert_form_refused(response, "interval_seconds", message)
    assert_nothing_saved(fault_report, before, f"admin {form}: interval {value[:12]}")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("cron_minute", "99", "minute value 99 is out of range 0-59"),
        ("cron_minute", "60", "minute value 60 is out of range 0-59"),
        ("cron_minute", HUGE, f"minute value {HUGE} is out of range 0-59"),
        ("cron_minute", "5-1", "range '5-1' runs backwards"),
        ("cron_minute", "1,,2", "'' is not a valid minute"),
        ("cron_minute", "* *", "'* *' is not a valid minute"),
        ("cron_minute", "*/-1", "bad step '-1' in minute"),
        ("cron_hour", "24", "hour value 24 is out of range 0-23"),
        ("cron_day_of_month", "0", "day of month value 0 is out of range 1-31"),
        ("cron_day_of_month", "32", "day of month value 32 is out of range 1-31"),
        ("cron_month", "13", "month value 13 is out of range 1-12"),
        ("cron_month", "smarch", "'smarch' is not a valid month"),
        ("cron_day_of_week", "8", "day of week value 8 is out of range 0-7"),
        ("cron_minute", "", "This field is required"),
    ],
)
def test_a_bad_cron_field_in_the_schedule_form_is_an_error_on_that_field(
    fault_report, people, field, value, message
):
    """`99 * * * *` and its cousins: each field's own error on the page, nothing saved."""
    before = snapshot()
    response = logged_in(people["boss"]).post(
        "/admin/scheduler/schedule/add/", schedule_form(kind="cron", **{field: value})
    )
    assert_form_refused(response, field, message)
    assert_nothing_saved(fault_report, before, f"admin schedule cron {field}={value[:12]!r}")


HOSTILE_JSON = [
    ('{"fast": NaN}', "NaN is not a number JSON allows"),
    ('{"fast": Infinity}', "Infinity is not a number JSON allows"),
    ('{"fast": -Infinity}', "-Infinity is not a number JSON allows"),
    ('{"fast": 1e400}', "1e400 is too large a number"),
    ('{"fast": ' + DEEP + "}", "nested deeper than 32 levels"),
    ("[" * 100_000 + "]" * 100_000, "nested deeper than 32 levels"),
]


@pytest.mark.parametrize(
    "text, message",
    [*HOSTILE_JSON, ('{"fast": ' + HUGE + "}", "Fast must be from 1 to 200")],
    ids=lambda value: value[:24],
)
def test_hostile_json_in_a_strategys_parameters_is_an_error_on_the_field(
    fault_report, people, targets, text, message
):
    """NaN, Infinity, 2**80 and deep nesting in the parameters: a form error, never a 500
    (PostgreSQL and SQLite refuse NaN in JSON at save; deep nesting exhausted the parser)."""
    before = snapshot()
    url = f"/admin/strategies/strategy/{targets['idle'].pk}/change/"
    response = logged_in(people["boss"]).post(url, strategy_form(parameters=text))
    assert_form_refused(response, "parameters", message)
    assert_nothing_saved(fault_report, before, f"admin strategy parameters {text[:20]}")


@pytest.mark.parametrize(
    "text, message",
    [(text.replace('"fast"', '"sleep"'), message) for text, message in HOSTILE_JSON],
    ids=lambda value: value[:24],
)
def test_hostile_json_in_a_schedules_arguments_is_an_error_on_the_field(
    fault_report, people, text, message
):
    before = snapshot()
    response = logged_in(people["boss"]).post(
        "/admin/scheduler/schedule/add/", schedule_form(kwargs=text)
    )
    assert_form_refused(response, "kwargs", message)
    assert_nothing_saved(fault_report, before, f"admin schedule arguments {text[:20]}")


# --- The start endpoint's interval and body -----------------------------------------------------
@pytest.mark.parametrize(
    "body, field, message",
    [
        ('{"interval_seconds": -5}', "interval_seconds", "greater than or equal to 1"),
        ('{"interval_seconds": 1000000000}', "interval_seconds", "less than or equal to 2678400"),
        ('{"interval_seconds": ' + HUGE + "}", "interval_seconds", "less than or equal"),
        ('{"interval_seconds": 1.5}', "interval_seconds", "must be a whole number"),
        ('{"interval_seconds": null}', "interval_seconds", "must be a whole number"),
        ('{"interval_seconds": [60]}', "interval_seconds", "must be a whole number"),
        ('{"interval_seconds": NaN}', "body", "NaN is not a number JSON allows"),
        ('{"interval_seconds": Infinity}', "body", "Infinity is not a number JSON allows"),
        ('{"interval_seconds": 1e400}', "body", "1e400 is too large a number"),
        ('{"interval_seconds": ' + "9" * 5000 + "}", "body", "not valid JSON"),
        ('{"interval_seconds": ' + DEEP + "}", "body", "nested deeper than 32 levels"),
        (DEEP, "body", "nested deeper than 32 levels"),
        ("[" * 200_000 + "]" * 200_000, "body", "nested deeper than 32 levels"),
        ('{"parameters": {"fast": NaN}}', "body", "NaN is not a number JSON allows"),
        ('{"parameters": {"fast": 5}}', "parameters", "unknown field"),
        (b"\xff\xfe{}", "body", "not valid JSON"),
    ],
    ids=lambda value: value[:24] if isinstance(value, str | bytes) else None,
)
def test_a_hostile_start_body_is_a_400_naming_the_field_and_starts_nothing(
    fault_report, people, targets, body, field, message
):
    """`POST /api/v1/strategies/<id>/start`: out-of-range, non-number and deeply nested
    values are a 400 `{"error", "fields"}`; the strategy stays stopped."""
    api = with_token(people["boss"])
    before = snapshot()
    url = f"/api/v1/strategies/{targets['idle'].pk}/start"
    response = api.post(url, body, content_type="application/json")
    assert response.status_code == 400
    payload = response.json()
    assert payload["error"] in ("bad request body", "invalid values")
    assert message in " ".join(payload["fields"][field])
    assert_nothing_saved(fault_report, before, f"API start body {str(body)[:20]}")


class EndlessBody(io.RawIOBase):
    """A request body that never ends, counting what the server reads of it."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        buffer[:] = b" " * len(buffer)
        self.read_bytes += len(buffer)
        return len(buffer)


CONTROLS = {
    "start": lambda t: f"/api/v1/strategies/{t['idle'].pk}/start",
    "stop": lambda t: f"/api/v1/strategies/{t['running'].pk}/stop",
    "run-now": lambda t: f"/api/v1/jobs/{t['enabled'].job_id}/run-now",
    "pause": lambda t: f"/api/v1/jobs/{t['enabled'].job_id}/pause",
    "resume": lambda t: f"/api/v1/jobs/{t['paused'].job_id}/resume",
}
TEN_MB = 10 * 1024 * 1024


@pytest.mark.parametrize("endpoint", [*CONTROLS, "jobs"])
def test_a_10_mb_body_is_a_413_in_json_and_is_never_read(fault_report, people, targets, endpoint):
    """A declared 10 MB body is refused before anything reads it (Django's own answer
    was an HTML 400, and the job controls, which read no body, acted on the request)."""
    api = with_token(people["boss"])
    body = EndlessBody()
    url = CONTROLS[endpoint](targets) if endpoint in CONTROLS else "/api/v1/jobs"
    before = snapshot()
    response = api.generic(
        "GET" if endpoint == "jobs" else "POST",
        url,
        CONTENT_TYPE="application/json",
        CONTENT_LENGTH=str(TEN_MB),
        **{"wsgi.input": body},
    )
    assert response.status_code == 413
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert response.json() == {"error": f"request body too large: at most {limit} bytes"}
    assert body.read_bytes == 0
    assert_nothing_saved(fault_report, before, f"API {endpoint}: 10 MB body")


def test_a_content_length_that_is_no_number_is_a_400_in_json(fault_report, people, targets):
    api = with_token(people["boss"])
    before = snapshot()
    response = api.generic("POST", CONTROLS["pause"](targets), CONTENT_LENGTH="ten megabytes")
    assert response.status_code == 400
    assert response.json() == {"error": "bad Content-Length header"}
    assert_nothing_saved(fault_report, before, "API pause: Content-Length not a number")


MANY_FIELDS = "&".join(f"f{n}=x" for n in range(1500))


@pytest.mark.parametrize(
    "endpoint, query, body, content_type, message",
    [
        ("start", "", MANY_FIELDS, "application/x-www-form-urlencoded", "MAX_NUMBER_FIELDS"),
        ("jobs", "?" + MANY_FIELDS, "", "", "DATA_UPLOAD_MAX_NUMBER_FIELDS"),
        # No boundary in 1 KB of text: Django's parser gives up ("max total header size").
        ("pause", "", "[" * 1024, "multipart/form-data; boundary=xyz", "unreadable multipart"),
    ],
    ids=["start: 1500 form fields", "jobs: 1500 query parameters", "pause: broken multipart"],
)
def test_a_body_django_cannot_parse_is_a_400_in_json(
    fault_report, people, targets, endpoint, query, body, content_type, message
):
    """Too many fields, or a multipart body that does not parse: Django answers an HTML
    400 (the fuzzer found the second); under /api/ it is JSON with the reason."""
    api = with_token(people["boss"])
    url = CONTROLS[endpoint](targets) if endpoint in CONTROLS else "/api/v1/jobs"
    before = snapshot()
    method = "GET" if endpoint == "jobs" else "POST"
    response = api.generic(method, url + query, body, content_type=content_type)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert_nothing_saved(fault_report, before, f"API {endpoint}: unparsable body")


@pytest.mark.parametrize("endpoint", ["stop", "run-now", "pause", "resume"])
@pytest.mark.parametrize(
    "body, message",
    [
        ('{"interval_seconds": 0}', "unknown field; allowed: none"),
        ('{"force": true}', "unknown field; allowed: none"),
        ("[1, 2]", "expected a JSON object"),
        (DEEP, "nested deeper than 32 levels"),
    ],
    ids=["interval", "force", "array", "deep"],
)
def test_the_controls_that_take_no_body_refuse_one_with_fields(
    fault_report, people, targets, endpoint, body, message
):
    """Stop, run now, pause and resume take no body: one with fields is a 400, not
    silently ignored while the control acts."""
    api = with_token(people["boss"])
    before = snapshot()
    response = api.post(CONTROLS[endpoint](targets), body, content_type="application/json")
    assert response.status_code == 400
    assert message in json.dumps(response.json()["fields"])
    assert_nothing_saved(fault_report, before, f"API {endpoint}: body {body[:12]}")


# --- Who may call the controls, and how -------------------------------------------------------
CALLERS = {
    "anonymous": (lambda p: Client(), 401, "authentication required"),
    "a wrong token": (
        lambda p: Client(headers={"Authorization": "Bearer altar_not-a-token"}),
        401,
        "invalid API token",
    ),
    "a session without CSRF": (
        lambda p: logged_in(p["boss"], enforce_csrf_checks=True),
        403,
        "CSRF check failed",
    ),
    "a non-staff user": (lambda p: with_token(p["member"]), 403, "staff with permission"),
    "staff without the permission": (
        lambda p: with_token(p["clerk"]),
        403,
        "staff with permission",
    ),
    "an unknown id": (lambda p: with_token(p["boss"]), 404, "does not exist"),
    "GET": (lambda p: with_token(p["boss"]), 405, "method GET not allowed; use POST"),
    "PUT": (lambda p: with_token(p["boss"]), 405, "method PUT not allowed; use POST"),
    "DELETE": (lambda p: with_token(p["boss"]), 405, "method DELETE not allowed; use POST"),
}
UNKNOWN = {
    "start": "/api/v1/strategies/999999/start",
    "stop": f"/api/v1/strategies/{HUGE}/stop",
    "run-now": "/api/v1/jobs/no_such_job/run-now",
    "pause": "/api/v1/jobs/no%00such%00job/pause",  # a NUL was a 500 on PostgreSQL
    "resume": "/api/v1/jobs/strategy_999999/resume",
}
# (endpoint, caller) pairs tested where the endpoints were built.
CALLERS_TESTED_ELSEWHERE = {
    ("start", "anonymous"),
    ("start", "a wrong token"),
    ("start", "a session without CSRF"),
    ("start", "staff without the permission"),
    ("start", "an unknown id"),
    ("start", "GET"),
    ("pause", "staff without the permission"),
}


def caller_cases():
    for endpoint in CONTROLS:
        for caller in CALLERS:
            if (endpoint, caller) not in CALLERS_TESTED_ELSEWHERE:
                yield pytest.param(endpoint, caller, id=f"{endpoint} by {caller}")


@pytest.mark.parametrize("endpoint, caller", list(caller_cases()))
def test_every_control_refuses_the_wrong_caller_in_json(
    fault_report, people, targets, endpoint, caller
):
    """Start, stop, run now, pause and resume: 401 for anonymous or a wrong token, 403 for
    a missing CSRF token, a non-staff user or staff without the permission, 404 for an
    unknown id, 405 for another method; always JSON with the reason, nothing changed."""
    make_client, status, message = CALLERS[caller]
    client = make_client(people)
    method = caller if caller in ("GET", "PUT", "DELETE") else "POST"
    url = UNKNOWN[endpoint] if caller == "an unknown id" else CONTROLS[endpoint](targets)
    before = snapshot()
    response = client.generic(method, url)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert message in response.json()["error"]
    assert_nothing_saved(fault_report, before, f"API {endpoint} by {caller}")


# --- Admin actions ------------------------------------------------------------------------------
ACTIONS = {
    "run_now": ("/admin/scheduler/schedule/", "enabled"),
    "pause_jobs": ("/admin/scheduler/schedule/", "enabled"),
    "resume_jobs": ("/admin/scheduler/schedule/", "paused"),
    "start_strategies": ("/admin/strategies/strategy/", "idle"),
    "stop_strategies": ("/admin/strategies/strategy/", "running"),
    "run_strategies_now": ("/admin/strategies/strategy/", "running"),
}
ADMIN_CALLERS = {
    # caller: (client, selected id, status, where it is sent / what the page says)
    "anonymous": (lambda p: Client(), None, 302, "/admin/login/?next="),
    "a non-staff user": (lambda p: logged_in(p["member"]), None, 302, "/admin/login/?next="),
    "a session without CSRF": (
        lambda p: logged_in(p["boss"], enforce_csrf_checks=True),
        None,
        403,
        "CSRF verification failed",
    ),
    "staff who may only view": (
        lambda p: logged_in(p["clerk"]),
        None,
        200,
        "for you here; nothing was changed.",
    ),
    "an unknown id": (lambda p: logged_in(p["boss"]), "999999", 200, "0 "),
    "a malformed id": (
        lambda p: logged_in(p["boss"]),
        "abc",
        200,
        "'abc' is not the id of a",
    ),
    "an id past the column": (
        lambda p: logged_in(p["boss"]),
        HUGE,
        200,
        f"'{HUGE}' is not the id of a",
    ),
}


@pytest.mark.parametrize("caller", ADMIN_CALLERS)
@pytest.mark.parametrize("action", ACTIONS)
def test_every_admin_action_refuses_the_wrong_caller_or_id(
    fault_report, people, targets, action, caller
):
    """Anonymous and non-staff callers are sent to admin's login; a post without CSRF is
    a 403; staff who may only view, and ids that are none (was a 500), get a message on
    the list; nothing changes."""
    make_client, selected, status, text = ADMIN_CALLERS[caller]
    url, target = ACTIONS[action]
    pk = selected or str(targets[target].pk)
    before = snapshot()
    response = make_client(people).post(
        url, {"action": action, "_selected_action": [pk], "index": "0"}, follow=status == 200
    )
    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith(text)
    elif caller == "an unknown id":  # "0 jobs paused.", "0 strategies started."...
        assert [m.message[:2] for m in response.context["messages"]] == [text]
    else:
        assert text in page_text(response)
    assert_nothing_saved(fault_report, before, f"admin action {action} by {caller}")


# --- The status pages' buttons ------------------------------------------------------------------
@pytest.mark.parametrize("button", ["run-now", "pause", "resume"])
@pytest.mark.parametrize(
    "caller, job, method, status",
    [
        ("anonymous", "health_check", "POST", 302),
        ("staff", "no_such_job", "POST", 404),
        ("staff", "no%00such", "POST", 404),
        ("staff", "health_check", "PUT", 405),
    ],
    ids=["anonymous", "unknown job", "NUL in the id", "PUT"],
)
def test_the_status_page_buttons_refuse_the_wrong_caller(
    fault_report, people, targets, button, caller, job, method, status
):
    """`/jobs/<id>/<button>`: anonymous is sent to the login page; an unknown job (a NUL
    in its id was a 500 on PostgreSQL) is a 404; another method a 405."""
    client = Client() if caller == "anonymous" else logged_in(people["boss"])
    before = snapshot()
    response = client.generic(method, f"/jobs/{job}/{button}")
    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith("/accounts/login/?next=")
    assert_nothing_saved(fault_report, before, f"page button {button}: {caller} {job} {method}")


def test_a_nul_in_the_job_search_is_a_400_instead_of_failing(fault_report, people):
    """`?q=` with a NUL character: PostgreSQL refuses it in a query (was a 500)."""
    before = snapshot()
    api = with_token(people["boss"])
    response = api.get("/api/v1/jobs?q=health%00")
    assert response.status_code == 400
    assert response.json() == {"error": "NUL characters are not accepted in a query"}
    page = logged_in(people["boss"]).get("/jobs/?q=health%00")
    assert page.status_code == 400
    assert_nothing_saved(fault_report, before, "job search with a NUL")


# --- Commands ---------------------------------------------------------------------------------
COMMANDS = [
    (("probe", "--interval", "0"), r"^CommandError: probe_1: .*greater than or equal to 1"),
    (("probe", "--interval", "-5"), r"^CommandError: probe_1: .*greater than or equal to 1"),
    (("probe", "--interval", "1000000000"), r"^CommandError: probe_1: .*less than or equal"),
    (("probe", "--interval", HUGE), r"^CommandError: probe_1: .*less than or equal"),
    (("probe", "--interval", "abc"), r"error: argument --interval: invalid int value: 'abc'$"),
    (("probe", "--interval", "1.5"), r"error: argument --interval: invalid int value: '1.5'$"),
    (("probe", "--count", "0"), r"^CommandError: --count must be at least 1$"),
    (("probe", "--sleep", "nan"), r"^CommandError: --sleep must be a number of seconds"),
    (("probe", "--sleep", "inf"), r"^CommandError: --sleep must be a number of seconds"),
    (("probe", "--max-attempts", "0"), r"^CommandError: probe_1: .*greater than or equal to 1"),
    (("backtest", HUGE, "--since", "2024-01-01", "--until", "2024-01-02"), "does not exist$"),
    (("backtest", "-1", "--since", "2024-01-01", "--until", "2024-01-02"), "does not exist$"),
]


@pytest.mark.django_db(transaction=True)
def test_commands_refuse_bad_values_with_one_readable_line_and_no_traceback(fault_report):
    """`manage.py probe --interval 0` and friends, as a shell runs them: a non-zero exit,
    the reason on one line, no traceback, nothing saved. Started together, to save the
    seconds each Django start-up takes."""
    before = snapshot()
    runs = [(args, pattern, support.manage(*args)) for args, pattern in COMMANDS]
    for args, pattern, process in runs:
        assert process.proc.wait(60) != 0, process.output
        process.stop()
        assert "Traceback" not in process.output, process.output
        assert process.lines, args
        last = process.lines[-1]
        assert re.search(pattern, last), f"{args}: {process.output}"
        # One readable line: the reason (after argparse's usage lines, for a bad option).
        assert sum("error" in line.lower() for line in process.lines) == 1, process.output
    after = snapshot()
    for args, _ in COMMANDS:
        fault_report.record(
            15,
            expected=1,
            ran=int(after != before),
            missed=0,
            duplicates=[],
            lost=[],
            note=f"manage.py {' '.join(args)[:40]}",
        )
    assert after == before


@pytest.mark.parametrize("action", ACTIONS)
def test_the_action_of_the_second_select_is_the_one_checked(fault_report, people, targets, action):
    """With an action select above and below the list, the form sends `action` twice and
    `index` says which counts: the check reads that one (reading the last, empty one let
    the id 'abc' through to a 500)."""
    url, _ = ACTIONS[action]
    before = snapshot()
    response = logged_in(people["boss"]).post(
        url, {"action": [action, ""], "index": "0", "_selected_action": ["abc"]}, follow=True
    )
    assert response.status_code == 200
    assert "'abc' is not the id of a" in page_text(response)
    assert_nothing_saved(fault_report, before, f"admin action {action} from the second select")
