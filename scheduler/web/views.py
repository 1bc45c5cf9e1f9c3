"""The job status pages: `/jobs/` and `/jobs/<job id>/`, with Run now, Pause and Resume.

Plain function views: login for reading, staff with the right permission for the
buttons (POST with CSRF). The work is done by `job_status` (reading) and `control` (acting).
"""

from __future__ import annotations

from datetime import UTC

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from .. import registry
from ..models import JobRun, SchedulerState, reaches_job
from ..slots import zone
from . import control, job_status

STATUS_COLOURS = {
    JobRun.SUCCEEDED: "#2e7d32",
    JobRun.FAILED: "#c62828",
    JobRun.TIMED_OUT: "#ef6c00",
    JobRun.INTERRUPTED: "#6a1b9a",
    JobRun.MISSED: "#9e9e9e",
    JobRun.SKIPPED: "#bdbdbd",
    JobRun.RUNNING: "#1565c0",
}


def _header(user) -> dict:
    """Which backend runs, and for staff which process (`host:pid`) holds the lock."""
    state = SchedulerState.get()
    if user.is_staff:
        holder = state.describe_holder()
    else:
        holder = "running" if state.holder_alive() else "not running"
    return {
        "backend": state.describe_backend(),
        "holder": holder,
        "outage": state.outage(),
        "catching_up": state.catching_up(),
    }


@login_required
def jobs(request):
    q = request.GET.get("q", "")
    state = request.GET.get("state", "")
    state = state if state in job_status.STATES else ""
    page, rows = job_status.job_page(request.user, q, state, request.GET.get("page"))
    return render(
        request,
        "scheduler/jobs.html",
        {
            "page": page,
            "rows": rows,
            "q": q,
            "state": state,
            "states": job_status.STATES,
            "refresh_seconds": settings.SCHEDULER_PAGE_REFRESH,
            **_header(request.user),
        },
    )


def timeline(runs: list[JobRun]) -> list[dict]:
    """Bars for the last runs, oldest first: colour by status, height by duration
    relative to the longest (at least a sliver, so a 1 ms run still shows)."""
    durations = [(r.duration.total_seconds() if r.duration else 0.0) for r in runs]
    longest = max(durations, default=0.0) or 1.0
    bars = []
    for index, (run, seconds) in enumerate(zip(reversed(runs), reversed(durations), strict=True)):
        height = max(4, round(56 * seconds / longest))
        bars.append(
            {
                "x": index * 8,
                "y": 60 - height,
                "height": height,
                "colour": STATUS_COLOURS.get(run.status, "#000"),
                "title": f"{timezone.localtime(run.scheduled_at):%Y-%m-%d %H:%M:%S} "
                f"{run.status} {seconds:.3f}s",
            }
        )
    return bars


@login_required
def job_detail(request, job_id: str):
    schedule = job_status.visible_schedule(request.user, job_id)
    # A system job's runs (summaries, errors) only for those who manage system jobs.
    shows_runs = reaches_job(request.user, job_id)
    row = job_status.job_status(schedule, details=shows_runs)
    runs = JobRun.objects.visible_to(request.user).filter(job_id=job_id).order_by("-scheduled_at")
    page = Paginator(runs, job_status.RUNS_PER_PAGE).get_page(request.GET.get("page"))
    recent = list(runs[: job_status.TIMELINE_RUNS])
    tz = zone(schedule.timezone or settings.SCHEDULER_TIMEZONE)
    # Shown in the schedule's own zone with its offset, and in UTC beside it, so a
    # daylight-saving shift is plain before it happens.
    upcoming = [
        f"{slot.astimezone(tz):%Y-%m-%d %H:%M:%S %Z (%z)} · {slot.astimezone(UTC):%H:%M} UTC"
        for slot in schedule.upcoming(5)
    ]
    return render(
        request,
        "scheduler/job_detail.html",
        {
            "row": row,
            "schedule": schedule,
            "page": page,
            "bars": timeline(recent),
            "timeline_width": max(8 * len(recent), 8),
            "colours": STATUS_COLOURS,
            "upcoming": upcoming,
            "zone": str(tz),
            "can_control": control.can_control(request.user, schedule),
            "strategy_page": strategy_page(job_id),
            "shows_runs": shows_runs,
            **_header(request.user),
        },
    )


def strategy_page(job_id: str) -> str | None:
    """The page of the strategy whose job this is (only its owner reaches the job's page)."""
    strategy_id = registry.strategy_id_of(job_id)
    return None if strategy_id is None else reverse(registry.STRATEGY_PAGE, args=[strategy_id])


def _act(request, job_id: str, action):
    schedule = job_status.visible_schedule(request.user, job_id)
    if not control.can_control(request.user, schedule):
        raise PermissionDenied("staff with permission to change this job only")
    try:
        outcome = action(schedule, request.user, via="status page")
    except control.Conflict as exc:
        messages.error(request, str(exc).capitalize() + ".")
    else:
        messages.success(request, outcome.message)
    return redirect("scheduler:job-detail", job_id=job_id)


@login_required
@require_POST
def run_now(request, job_id: str):
    return _act(request, job_id, control.run_now)


@login_required
@require_POST
def pause(request, job_id: str):
    return _act(request, job_id, control.pause)


@login_required
@require_POST
def resume(request, job_id: str):
    return _act(request, job_id, control.resume)
