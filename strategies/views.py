"""The guide's strategy endpoints: POST /api/v1/strategies/<id>/start and /stop.

Staff with the "change strategy" permission (as the admin actions ask) only,
CSRF-protected, JSON in and out, errors as `{"error": "..."}`.
"""

from functools import wraps

from django.http import JsonResponse
from django.views.decorators.http import require_POST

from scheduler import get_scheduler

from .models import Strategy


def staff_json(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"error": "login required"}, status=401)
        if not (request.user.is_staff and request.user.has_perm("strategies.change_strategy")):
            return JsonResponse(
                {"error": "staff with permission to change strategies only"}, status=403
            )
        return view(request, *args, **kwargs)

    return wrapper


def _state(strategy: Strategy, changed: bool) -> JsonResponse:
    job = get_scheduler().get_job(strategy.job_id)
    return JsonResponse(
        {
            "strategy_id": strategy.pk,
            "job_id": strategy.job_id,
            "active": strategy.is_active,
            "changed": changed,
            "next_run_time": job.next_run_time.isoformat() if job and job.next_run_time else None,
        }
    )


def _get(strategy_id: int):
    return Strategy.objects.filter(pk=strategy_id).first()


@require_POST
@staff_json
def start(request, strategy_id: int):
    strategy = _get(strategy_id)
    if strategy is None:
        return JsonResponse({"error": f"strategy {strategy_id} does not exist"}, status=404)
    return _state(strategy, strategy.start())


@require_POST
@staff_json
def stop(request, strategy_id: int):
    strategy = _get(strategy_id)
    if strategy is None:
        return JsonResponse({"error": f"strategy {strategy_id} does not exist"}, status=404)
    return _state(strategy, strategy.stop())
