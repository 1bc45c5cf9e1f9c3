"""The guide's strategy endpoints: POST /api/v1/strategies/<id>/start and /stop.

Staff with the "change strategy" permission (as the admin actions ask), through a
session with its CSRF token or an API token (`scheduler.web.http.api_view`). A non-superuser
reaches only the strategies they own (`visible_to`; 404 for the others). JSON in and
out; errors as `{"error": "...", "fields": {...}}`. Each change is written to admin's
history with the user.
"""

from django.core.exceptions import ValidationError
from django.http import JsonResponse

from scheduler import get_scheduler
from scheduler.web.http import api_view, error, json_body

from .models import Strategy

PERMISSION = "strategies.change_strategy"
DENIED = "staff with permission to change strategies only"
START_FIELDS = {"interval_seconds": int, "start_immediately": bool}


def _state(strategy: Strategy, changed: bool) -> JsonResponse:
    job = get_scheduler().get_job(strategy.job_id)
    return JsonResponse(
        {
            "strategy_id": strategy.pk,
            "job_id": strategy.job_id,
            "active": strategy.is_active,
            "changed": changed,
            "interval_seconds": strategy.interval_seconds,
            "next_run_time": job.next_run_time.isoformat() if job and job.next_run_time else None,
        }
    )


def _get(request, strategy_id: int):
    return Strategy.objects.visible_to(request.user).filter(pk=strategy_id).first()


def _missing(strategy_id: int) -> JsonResponse:
    return error(f"strategy {strategy_id} does not exist", 404)


@api_view(("POST",), permission=PERMISSION, denied=DENIED)
def start(request, strategy_id: int):
    """Start; the optional body `{"interval_seconds": 300, "start_immediately": true}`
    sets those first. Starting a running strategy is a 409 (stop it, or change its
    interval in admin)."""
    values, errors = json_body(request, START_FIELDS)
    if errors:
        return error("bad request body", 400, errors)
    strategy = _get(request, strategy_id)
    if strategy is None:
        return _missing(strategy_id)
    if strategy.is_active:
        return error(f"strategy {strategy_id} is already running", 409)
    try:
        changed = strategy.start(by=request.user, via="API", **values)
    except ValidationError as exc:
        strategy.refresh_from_db()
        return error("invalid values", 400, exc.message_dict)
    return _state(strategy, changed)


@api_view(("POST",), permission=PERMISSION, denied=DENIED)
def stop(request, strategy_id: int):
    """Stop; it takes no body (one with fields is refused, as start refuses unknown ones)."""
    _, errors = json_body(request, {})
    if errors:
        return error("bad request body", 400, errors)
    strategy = _get(request, strategy_id)
    if strategy is None:
        return _missing(strategy_id)
    if not strategy.is_active:
        return error(f"strategy {strategy_id} is not running", 409)
    return _state(strategy, strategy.stop(by=request.user, via="API"))
