"""`GET /api/v1/jobs` and the job controls in JSON (run-now, pause, resume).

Authentication, CSRF and errors are `http.api_view`'s; listing and acting are the
status pages' own (`job_status`, `control`), so page and API never disagree.
"""

from __future__ import annotations

from django.http import Http404, JsonResponse

from . import control, job_status
from .http import api_view, error, json_body


@api_view(("GET",))
def jobs(request):
    """The jobs the caller may see, 100 a page: `?q=` (id or description prefix),
    `?state=ok|late|failing|paused`, `?page=`."""
    state = request.GET.get("state", "")
    if state and state not in job_status.STATES:
        return error(
            "bad filter", 400, {"state": [f"choose one of: {', '.join(job_status.STATES)}"]}
        )
    page, rows = job_status.job_page(
        request.user, request.GET.get("q", ""), state, request.GET.get("page")
    )
    return JsonResponse(
        {
            "count": page.paginator.count,
            "page": page.number,
            "pages": page.paginator.num_pages,
            "jobs": [row.as_json() for row in rows],
        }
    )


def _act(request, job_id: str, action) -> JsonResponse:
    """The controls take no body: one with fields is refused rather than ignored."""
    _, errors = json_body(request, {})
    if errors:
        return error("bad request body", 400, errors)
    try:
        schedule = job_status.visible_schedule(request.user, job_id)
    except Http404:
        return error(f"job {job_id} does not exist", 404)
    if not control.can_control(request.user, schedule):
        return error("staff with permission to change this job only", 403)
    try:
        outcome = action(schedule, request.user, via="API")
    except control.Conflict as exc:
        return error(str(exc), 409)
    schedule.refresh_from_db()
    return JsonResponse(
        {
            "job_id": job_id,
            "enabled": schedule.enabled,
            "changed": outcome.changed,
            "message": outcome.message,
        }
    )


@api_view(("POST",))
def run_now(request, job_id: str):
    return _act(request, job_id, control.run_now)


@api_view(("POST",))
def pause(request, job_id: str):
    return _act(request, job_id, control.pause)


@api_view(("POST",))
def resume(request, job_id: str):
    return _act(request, job_id, control.resume)
