"""Fault 15 of issue 10, hostile input under a property-based fuzzer: every JSON endpoint
(start, stop, run now, pause, resume, the job list) fed arbitrary methods, path ids,
bodies (JSON values with NaN, Infinity and huge numbers, raw bytes), content types and
callers, by hypothesis.

The properties, for every request:
- never a 5xx; every 4xx is JSON with an "error" message;
- the front door answers in its order: 404 for a path no route takes, 405 for another
  method, 401 without a valid session or token, 403 for a session without CSRF;
- nothing changes unless the answer is a 200 to a caller allowed to act, and then the
  change is the one asked for (started with the interval sent, stopped, paused, resumed,
  one run request).

Each example runs in a savepoint rolled back afterwards, so all start from the same rows.
Hypothesis' example database is off and the run derandomized: CI sees the same examples
every time. FUZZ_EXAMPLES=5000 FUZZ_RANDOM=1 makes a longer, random exploratory run (it
found the unparsable multipart body). The hand-picked hostile cases are in
test_hostile_input.py.
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote, unquote

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.models import Schedule
from strategies.models import Strategy

from .test_hostile_input import snapshot, with_token

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 1000))
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
ENDPOINTS = {  # endpoint: (path template, its method)
    "start": ("/api/v1/strategies/{}/start", "POST"),
    "stop": ("/api/v1/strategies/{}/stop", "POST"),
    "run-now": ("/api/v1/jobs/{}/run-now", "POST"),
    "pause": ("/api/v1/jobs/{}/pause", "POST"),
    "resume": ("/api/v1/jobs/{}/resume", "POST"),
    "jobs": ("/api/v1/jobs{}", "GET"),
}
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/octet-stream",
]
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Callers that may act (if the object is theirs): the superuser by token or by session
# with its CSRF token, and a staff owner holding the strategies' change permission. (A
# tuple, not a set: a set's order changes with the hash seed, and so would the examples.)
ACTING = ("boss token", "boss session with CSRF", "owner token")
CALLERS = (*ACTING, "anonymous", "wrong token", "boss session without CSRF")
CALLERS += ("clerk token", "member token")


@pytest.fixture
def world(django_user_model):
    """The rows and logged-in clients every example starts from (sessions are made here,
    outside the examples' savepoints, so a rollback never logs anyone out)."""
    boss = django_user_model.objects.create_superuser("boss", "", "pw-tests-only")
    owner = django_user_model.objects.create_user("owner", "", "pw-tests-only", is_staff=True)
    owner.user_permissions.add(Permission.objects.get(codename="change_strategy"))
    clerk = django_user_model.objects.create_user("clerk", "", "pw-tests-only", is_staff=True)
    member = django_user_model.objects.create_user("member", "", "pw-tests-only")
    idle = Strategy.objects.create(name="Idle", interval_seconds=60, owner=owner)
    running = Strategy.objects.create(name="Running", interval_seconds=60, owner=owner)
    running.start()
    theirs = Strategy.objects.create(name="Theirs", interval_seconds=60)
    Schedule.objects.create(job_id="paused_probe", task="probe", interval_seconds=60, enabled=False)

    csrf_secret = _get_new_csrf_string()
    with_csrf = Client(enforce_csrf_checks=True, headers={"X-CSRFToken": csrf_secret})
    with_csrf.force_login(boss)
    with_csrf.cookies["csrftoken"] = csrf_secret
    without_csrf = Client(enforce_csrf_checks=True)
    without_csrf.force_login(boss)
    clients = {
        "anonymous": Client(),
        "wrong token": Client(headers={"Authorization": "Bearer altar_not-a-token"}),
        "boss token": with_token(boss),
        "boss session with CSRF": with_csrf,
        "boss session without CSRF": without_csrf,
        "owner token": with_token(owner),
        "clerk token": with_token(clerk),
        "member token": with_token(member),
    }
    strategy_ids = [idle.pk, running.pk, theirs.pk]
    job_ids = ["health_check", "paused_probe", *(f"strategy_{pk}" for pk in strategy_ids)]
    return {"clients": clients, "strategy ids": strategy_ids, "job ids": job_ids}


# --- What hypothesis draws ----------------------------------------------------------------------
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**90), max_value=2**90),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -5, 1, 60, 10**9, 2**80, 31 * 86400, 31 * 86400 + 1]),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
START_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "interval_seconds": NUMBERS | JSON_VALUES,
        "start_immediately": st.booleans() | JSON_VALUES,
    },
)


def as_json(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()  # NaN and Infinity as Python writes them


BODIES = st.one_of(
    st.just(b""),
    st.just(b"{}"),
    START_BODIES.map(as_json),
    START_BODIES.map(as_json),
    JSON_VALUES.map(as_json),
    st.binary(max_size=64),
    st.integers(min_value=30, max_value=600).map(lambda depth: b"[" * depth + b"]" * depth),
)


@st.composite
def requests(draw, world):
    endpoint = draw(st.sampled_from(list(ENDPOINTS)))
    template, own_method = ENDPOINTS[endpoint]
    # Weighted towards requests that could pass each check, so the fuzzer reaches the
    # views, and the valid calls the oracle checks the changes of, often enough.
    method = draw(st.sampled_from([own_method] * 6 + METHODS))
    if endpoint == "jobs":
        query = draw(
            st.dictionaries(
                st.sampled_from(["q", "state", "page"]),
                st.text(max_size=8) | st.sampled_from(["ok", "late", "failing", "paused"]),
            )
        )
        path_id = "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
    elif endpoint in ("start", "stop"):
        path_id = str(
            draw(
                st.sampled_from(world["strategy ids"] * 3)
                | st.integers(min_value=0, max_value=2**80)
                | st.text(max_size=8)
            )
        )
    else:
        path_id = draw(st.sampled_from(world["job ids"] * 2) | st.text(max_size=12))
    if endpoint != "jobs":
        path_id = quote(path_id, safe="")
    return {
        "endpoint": endpoint,
        "method": method,
        "path": template.format(path_id),
        "body": draw(BODIES),
        "content_type": draw(st.sampled_from(CONTENT_TYPES[:1] * 4 + CONTENT_TYPES)),
        "caller": draw(st.sampled_from([*ACTING, *ACTING, *CALLERS])),
    }


# --- The oracle ----------------------------------------------------------------------------------
def routed(path: str) -> dict | None:
    """The URL keyword arguments if a route takes `path` (decoded, as the server sees
    it), else None."""
    try:
        return resolve(unquote(path.split("?")[0])).kwargs
    except Resolver404:
        return None


def check_front_door(request: dict, status: int) -> None:
    """A NUL in the query's 400, then 404, 405, 401 and the CSRF 403, in the order the
    front door answers them."""
    own_method = ENDPOINTS[request["endpoint"]][1]
    caller, method = request["caller"], request["method"]
    if "%00" in request["path"].partition("?")[2]:
        assert status == 400  # refused site-wide, before any view (altar.middleware)
    elif routed(request["path"]) is None:
        assert status == 404
    elif method != own_method:
        assert status == 405
    elif caller in ("anonymous", "wrong token"):
        assert status == 401
    elif caller == "boss session without CSRF" and method == "POST":
        assert status == 403


def check_change(request: dict, before: dict, after: dict) -> None:
    """A 200: the change is the one asked for, and only an acting caller made it."""
    endpoint = request["endpoint"]
    if endpoint == "jobs":
        assert after == before, "listing jobs changed something"
        return
    assert request["caller"] in ACTING
    kwargs = routed(request["path"])
    old = {row["id"]: row for row in before["strategies.Strategy"]}
    new = {row["id"]: row for row in after["strategies.Strategy"]}
    schedules = {row["job_id"]: row for row in after["scheduler.Schedule"]}
    if endpoint in ("start", "stop"):
        pk = kwargs["strategy_id"]
        assert {k: v for k, v in new.items() if k != pk} == {
            k: v for k, v in old.items() if k != pk
        }, "another strategy changed"
        assert new[pk]["is_active"] is (endpoint == "start") and old[pk]["is_active"] is not (
            endpoint == "start"
        )
        assert schedules[f"strategy_{pk}"]["enabled"] is new[pk]["is_active"]
        form = request["content_type"].startswith(FORM_TYPES)  # a form without fields
        if endpoint == "start" and request["body"].strip():  # is "no body" (a plain fetch)
            sent = {} if form else json.loads(request["body"])  # else a JSON object
            assert set(sent) <= {"interval_seconds", "start_immediately"}
            assert new[pk]["interval_seconds"] == sent.get(
                "interval_seconds", old[pk]["interval_seconds"]
            )
            assert new[pk]["start_immediately"] == sent.get(
                "start_immediately", old[pk]["start_immediately"]
            )
    elif endpoint == "run-now":
        added = len(after["scheduler.RunRequest"]) - len(before["scheduler.RunRequest"])
        assert added == 1 and after["scheduler.RunRequest"][-1]["job_id"] == kwargs["job_id"]
    else:
        assert schedules[kwargs["job_id"]]["enabled"] is (endpoint == "resume")
        was = {row["job_id"]: row for row in before["scheduler.Schedule"]}[kwargs["job_id"]]
        assert was["enabled"] is (endpoint == "pause")


def test_fuzzed_requests_never_fail_and_change_only_what_a_permitted_call_asks(fault_report, world):
    """Hypothesis draws each request; the oracle checks the answer and the rows. The
    totals go to the fault report: expected = requests sent, ran = refused ones that
    changed something anyway (must be 0)."""
    tally = {"requests": 0, "refused": 0, "applied": 0, "wrong": 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=os.environ.get("FUZZ_RANDOM") != "1",
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(request=requests(world))
    def one_request(request):
        tally["requests"] += 1
        with transaction.atomic():
            before = snapshot()
            response = world["clients"][request["caller"]].generic(
                request["method"],
                request["path"],
                request["body"],
                content_type=request["content_type"],
            )
            after = snapshot()
            transaction.set_rollback(True)
        status = response.status_code
        assert status < 500, (request, response.content[:500])
        if status >= 400 and request["method"] != "HEAD":  # HEAD answers carry no body
            assert response["Content-Type"] == "application/json", (request, response.content)
            assert response.json()["error"], request
        check_front_door(request, status)
        if status == 200:
            tally["applied"] += after != before
            check_change(request, before, after)
        else:
            tally["refused"] += 1
            tally["wrong"] += after != before
            assert after == before, (request, status, response.content[:200])

    try:
        one_request()
    finally:
        fault_report.record(
            15,
            expected=tally["requests"],
            ran=tally["wrong"],
            missed=0,
            duplicates=[],
            lost=[],
            note=f"{tally['requests']} fuzzed requests: {tally['refused']} refused, "
            f"{tally['applied']} valid ones applied as asked; no 5xx",
        )
