"""What the status pages and `GET /api/v1/jobs` show, read in a constant number of queries.

`job_page` paginates the visible schedule ids, then `annotated` reads the page's newest
runs, health rows and 24-hour counts in one query each (on indexed columns, for the
page's job ids only), and `status_of` turns each schedule into what a page shows.
However many schedules and runs there are, a page costs the same queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.paginator import Page, Paginator
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import Http404
from django.utils import timezone

from .. import registry
from ..models import JobHealth, JobRun, Schedule
from ..runs.health import lateness

JOBS_PER_PAGE = 100
RUNS_PER_PAGE = 50
TIMELINE_RUNS = 100
STATES = ("ok", "late", "failing", "paused")
FAILED_STATUSES = (JobRun.FAILED, JobRun.TIMED_OUT, JobRun.INTERRUPTED)


def visible_schedules(user):
    """The jobs `user` may see listed (`Schedule.objects.listed_for`: their strategies'
    jobs, and the system jobs' state)."""
    return Schedule.objects.listed_for(user)


def visible_schedule(user, job_id: str) -> Schedule:
    """The schedule `job_id` if `user` may see it; 404 otherwise (never a 403 that would
    confirm someone else's strategy exists). A NUL character is in no job id, and
    PostgreSQL refuses one in a query (a 500): such an id is simply not found."""
    schedule = None if "\x00" in job_id else visible_schedules(user).filter(job_id=job_id).first()
    if schedule is None:
        raise Http404(f"no job {job_id}")
    return schedule


def filtered(schedules, q: str = "", state: str = ""):
    """Search (a job id or description prefix: both indexed) and the state filter. (A
    search with a NUL character never gets here: `altar.middleware.RefuseNulInQuery`.)"""
    q = q.strip()
    if q:
        schedules = schedules.filter(Q(job_id__startswith=q) | Q(description__startswith=q))
    marked = JobHealth.objects.values("job_id")
    if state == "paused":
        schedules = schedules.filter(enabled=False)
    elif state in (JobHealth.LATE, JobHealth.FAILING):
        schedules = schedules.filter(enabled=True, job_id__in=marked.filter(state=state))
    elif state == "ok":
        schedules = schedules.filter(enabled=True).exclude(
            job_id__in=marked.exclude(state=JobHealth.OK)
        )
    return schedules


def annotated(schedules, now: datetime) -> list[Schedule]:
    """The schedules (one page of them) with their health, newest run and 24-hour counts
    attached, in four queries whatever the page size: the newest run's id by a correlated
    subquery on the history index, then the runs, the health rows and the counts each
    in one query over the page's job ids."""
    newest = JobRun.objects.filter(job_id=OuterRef("job_id")).order_by("-scheduled_at")
    rows = list(schedules.annotate(newest_run=Subquery(newest.values("pk")[:1])))
    job_ids = [row.job_id for row in rows]
    runs = JobRun.objects.in_bulk([row.newest_run for row in rows if row.newest_run])
    health = {h.job_id: h for h in JobHealth.objects.filter(job_id__in=job_ids)}
    counts = {
        row["job_id"]: row
        for row in JobRun.objects.filter(
            job_id__in=job_ids, scheduled_at__gte=now - timedelta(days=1)
        )
        .values("job_id")
        .annotate(runs=Count("pk"), failures=Count("pk", filter=Q(status__in=FAILED_STATUSES)))
        .order_by()
    }
    for row in rows:
        row.newest = runs.get(row.newest_run)
        row.health = health.get(row.job_id)
        day = counts.get(row.job_id, {})
        row.runs_24h, row.failures_24h = day.get("runs", 0), day.get("failures", 0)
    return rows


@dataclass
class JobStatus:
    """One schedule as the pages show it."""

    schedule: Schedule
    state: str
    reason: str
    next_run: datetime | None
    last_status: str | None
    last_slot: datetime | None
    last_finished: datetime | None
    last_duration: float | None
    runs_24h: int
    failures_24h: int

    @property
    def job_id(self) -> str:
        return self.schedule.job_id

    @property
    def is_strategy(self) -> bool:
        return registry.strategy_id_of(self.job_id) is not None

    @property
    def trigger(self) -> str:
        return self.schedule.describe_trigger()

    def as_json(self) -> dict:
        def iso(moment):
            return moment.isoformat() if moment else None

        return {
            "id": self.job_id,
            "description": self.schedule.description,
            "task": self.schedule.task,
            "trigger": self.trigger,
            "enabled": self.schedule.enabled,
            "state": self.state,
            "state_reason": self.reason,
            "next_run_time": iso(self.next_run),
            "last_run": None
            if self.last_status is None
            else {
                "status": self.last_status,
                "slot": iso(self.last_slot),
                "finished_at": iso(self.last_finished),
                "duration_seconds": self.last_duration,
            },
            "runs_24h": self.runs_24h,
            "failures_24h": self.failures_24h,
        }


def status_of(schedule: Schedule, now: datetime, details: bool = True) -> JobStatus:
    """A `JobStatus` from a schedule carrying what `annotated` attached. Without
    `details` (a system job shown to someone who does not manage them) the health
    reason, a run's error, is left out."""
    run = schedule.newest
    last = None
    if run is not None:
        last = max(run.scheduled_at, run.missed_until or run.scheduled_at)
    # Late is judged here, at read time, from the timing and the newest recorded slot:
    # a dead scheduler marks nothing, and its jobs must still show late.
    overdue = lateness(schedule, last, now) if schedule.enabled else None
    if not schedule.enabled:
        state, reason = "paused", schedule.paused_reason or "disabled: no slots fire"
    elif schedule.health is not None and schedule.health.state == JobHealth.FAILING:
        state, reason = JobHealth.FAILING, schedule.health.reason if details else ""
    elif overdue:
        state, reason = JobHealth.LATE, overdue
    else:
        state, reason = JobHealth.OK, ""
    duration = run.duration.total_seconds() if run is not None and run.duration else None
    try:
        next_run = schedule.next_fire_time_after(last, now)
    except Exception:  # a row edited into nonsense: show it, without a next run
        next_run = None
    return JobStatus(
        schedule=schedule,
        state=state,
        reason=reason,
        next_run=next_run,
        last_status=run.status if run else None,
        last_slot=run.scheduled_at if run else None,
        last_finished=run.finished_at if run else None,
        last_duration=duration,
        runs_24h=schedule.runs_24h,
        failures_24h=schedule.failures_24h,
    )


def job_page(user, q: str, state: str, page_number) -> tuple[Page, list[JobStatus]]:
    """One page of the jobs `user` may see, filtered, with their status."""
    now = timezone.now()
    # Paginate the ids, then annotate only the page's rows: the subqueries then run a
    # hundred times, never once per schedule before a sort.
    ids = (
        filtered(visible_schedules(user), q, state).order_by("job_id").values_list("pk", flat=True)
    )
    page = Paginator(ids, JOBS_PER_PAGE).get_page(page_number)
    shown = Schedule.objects.filter(pk__in=list(page.object_list))
    rows = annotated(shown.order_by("job_id"), now)
    detailed = set(shown.visible_to(user).values_list("pk", flat=True))
    return page, [status_of(schedule, now, schedule.pk in detailed) for schedule in rows]


def job_status(schedule: Schedule, details: bool) -> JobStatus:
    now = timezone.now()
    return status_of(annotated(Schedule.objects.filter(pk=schedule.pk), now)[0], now, details)
