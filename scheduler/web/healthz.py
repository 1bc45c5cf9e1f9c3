"""`/healthz`: is this hub working? For Heroku and uptime monitors; no login, no secrets.

200 when every component is ok (or only warns), 503 when one fails. Anyone gets the
verdict and the names of the components that fail or warn; logged-in staff also get each
component's one-line reason, which never carries a URL, a host or a credential (errors
are named by their type only) but does say what the hub runs and tracks.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .. import registry
from ..backends import get_backend_class
from ..jobs import ping_database
from ..models import HealthReport, SchedulerState, stale_after

OK, WARN, FAIL = "ok", "warn", "fail"


def _component(status: str, message: str) -> dict[str, str]:
    return {"status": status, "message": message}


def database() -> dict[str, str]:
    took, error = ping_database()
    if error is not None:
        return _component(FAIL, f"unreachable ({type(error).__name__})")  # no message: no secrets
    return _component(OK, f"answered in {took:.0f} ms")


def broker() -> dict[str, str]:
    try:
        ok, message = get_backend_class().broker_status()
    except Exception as exc:
        return _component(FAIL, f"check failed ({type(exc).__name__})")
    return _component(OK if ok else FAIL, message)


def scheduler() -> dict[str, str]:
    """A lock holder whose heartbeat is fresh (`SchedulerState.holder_alive`)."""
    state = SchedulerState.get()
    age = state.heartbeat_age()
    if age is None:
        return _component(FAIL, "no process holds the scheduler lock")
    if not state.holder_alive():
        limit = stale_after().total_seconds()
        return _component(FAIL, f"lock holder's heartbeat is {age:.0f}s old (over {limit:.0f}s)")
    return _component(OK, f"lock held, heartbeat {age:.0f}s ago")


def reported(name: str, report: HealthReport | None) -> dict[str, str]:
    """A check another app adds to the health check (`registry.HEALTH_CHECKS`), from the
    newest report (hourly): running it here would make each probe as slow as the job.
    Such a check only warns; it does not fail the hub."""
    if report is None:
        return _component(WARN, "no health check has run yet")
    check = next((c for c in report.checks if c.get("name") == name), None)
    if check is None:
        return _component(WARN, f"the last health check did not look at the {name}")
    age = (timezone.now() - report.created_at).total_seconds() / 60
    status = OK if check.get("status") == OK else WARN
    return _component(status, f"{check.get('message', '')} (checked {age:.0f} min ago)")


@never_cache
@require_safe  # uptime monitors often probe with HEAD
def healthz(request):
    components = {"database": database()}
    if components["database"]["status"] == OK:
        components["scheduler"] = scheduler()
        report = HealthReport.latest()
        for name in registry.HEALTH_CHECKS:
            components[name.replace(" ", "_")] = reported(name, report)
    components["broker"] = broker()
    worst = {c["status"] for c in components.values()}
    status = FAIL if FAIL in worst else WARN if WARN in worst else OK
    body = {
        "status": status,
        "failing": [name for name, c in components.items() if c["status"] == FAIL],
        "warning": [name for name, c in components.items() if c["status"] == WARN],
    }
    if request.user.is_active and request.user.is_staff:
        body["components"] = components
    response = JsonResponse(body, status=503 if status == FAIL else 200)
    # A 503 here is the answer, not a server error: Django would log it as one and, with
    # ADMINS set, mail every probe of every monitor. A dead scheduler is mailed once per
    # outage instead (`web/outage.py`).
    response._has_been_logged = True
    return response
