"""`/healthz`: is this hub working? For Heroku and uptime monitors; no login, no secrets.

200 when every component is ok (or only warns), 503 when one fails. Each component says
why in one line that never carries a URL, a host or a credential: errors are named by
their type only.
"""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .backends import get_backend_class
from .jobs import ping_database
from .models import SchedulerState

HEALTH_REPORT = "market_data.models.HealthReport"
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
    """A lock holder whose heartbeat is at most three beats old (as claims are judged)."""
    state = SchedulerState.get()
    if not state.holder or state.holder_seen_at is None:
        return _component(FAIL, "no process holds the scheduler lock")
    age = (timezone.now() - state.holder_seen_at).total_seconds()
    limit = 3 * settings.SCHEDULER_HEARTBEAT_SECONDS
    if age > limit:
        return _component(FAIL, f"lock holder's heartbeat is {age:.0f}s old (over {limit}s)")
    return _component(OK, f"lock held, heartbeat {age:.0f}s ago")


def data_freshness() -> dict[str, str]:
    """From the newest health-check report (hourly): checking every series here would
    make each probe as slow as the job. Stale data warns; it does not fail the hub."""
    try:
        report = import_string(HEALTH_REPORT).latest()
    except Exception as exc:
        return _component(WARN, f"no report ({type(exc).__name__})")
    if report is None:
        return _component(WARN, "no health check has run yet")
    check = next((c for c in report.checks if c.get("name") == "data freshness"), None)
    if check is None:
        return _component(WARN, "the last health check did not look at the data")
    age = (timezone.now() - report.created_at).total_seconds() / 60
    status = OK if check.get("status") == OK else WARN
    return _component(status, f"{check.get('message', '')} (checked {age:.0f} min ago)")


@never_cache
@require_safe  # uptime monitors often probe with HEAD
def healthz(request):
    components = {"database": database()}
    if components["database"]["status"] == OK:
        components["scheduler"] = scheduler()
        components["data_freshness"] = data_freshness()
    components["broker"] = broker()
    worst = {c["status"] for c in components.values()}
    status = FAIL if FAIL in worst else WARN if WARN in worst else OK
    return JsonResponse(
        {"status": status, "components": components}, status=503 if status == FAIL else 200
    )
