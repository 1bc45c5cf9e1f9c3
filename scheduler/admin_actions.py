"""Run now, pause and resume as admin actions, for Schedules and (as a mixin) Strategies.

They call `scheduler.control`, like the status pages and the API, so each change is
handed to the scheduler the same way and written to admin's history with the user.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import ngettext

from . import control
from .models import Schedule


def apply(modeladmin, request, schedules, action, done: str) -> None:
    """Run `action` on each schedule the user may control (a strategy's job only for
    staff who may change that strategy); report how many it applied to, and each
    refusal or conflict."""
    from .status import visible_schedules
    from .views import can_control

    visible = set(visible_schedules(request.user).values_list("pk", flat=True))
    count = 0
    for schedule in schedules:
        if schedule.pk not in visible or not can_control(request.user, schedule):
            modeladmin.message_user(
                request, f"Job {schedule.job_id}: not yours to change.", messages.WARNING
            )
            continue
        try:
            action(schedule, request.user, via="admin")
        except control.Conflict as exc:
            modeladmin.message_user(request, str(exc).capitalize() + ".", messages.WARNING)
        else:
            count += 1
    jobs = ngettext("%d job", "%d jobs", count) % count
    modeladmin.message_user(request, f"{jobs} {done}.")


class ScheduleControlActions:
    """For `ScheduleAdmin`: Run now, Pause and Resume on the selected schedules."""

    @admin.action(description="Run selected jobs now", permissions=["change"])
    def run_now(self, request, queryset):
        apply(self, request, queryset, control.run_now, "asked to run now")

    @admin.action(description="Pause selected jobs", permissions=["change"])
    def pause_jobs(self, request, queryset):
        apply(self, request, queryset, control.pause, "paused")

    @admin.action(description="Resume selected jobs", permissions=["change"])
    def resume_jobs(self, request, queryset):
        apply(self, request, queryset, control.resume, "resumed")


class StrategyJobActions:
    """For the strategies' admin: "Run now" on the selected strategies' jobs (the admin
    scopes its queryset to the user's strategies itself, `visible_to`)."""

    @admin.action(description="Run selected strategies now", permissions=["change"])
    def run_strategies_now(self, request, queryset):
        job_ids = [f"{control.STRATEGY_PREFIX}{pk}" for pk in queryset.values_list("pk", flat=True)]
        apply(
            self,
            request,
            Schedule.objects.filter(job_id__in=job_ids),
            control.run_now,
            "asked to run now",
        )
