"""Run now, pause and resume as admin actions, for Schedules and (as a mixin) Strategies.

They call `control`, like the status pages and the API, so each change is handed to the
scheduler the same way and written to admin's history with the user.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpResponseRedirect
from django.utils.translation import ngettext

from .. import registry
from ..models import Schedule
from . import control


def apply(modeladmin, request, schedules, action, done: str) -> None:
    """Run `action` on each schedule the user may control (a strategy's job only for
    staff who may change that strategy); report how many it applied to, and each
    refusal or conflict."""
    count = 0
    for schedule in schedules:
        if not control.can_control(request.user, schedule):
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


def posted_action(request) -> str:
    """The action admin will run for this post: with an action select at the top and at
    the bottom of the list, the form sends `action` twice and `index` says which one
    counts (as in `ModelAdmin.response_action`)."""
    try:
        index = int(request.POST.get("index", 0))
    except ValueError:
        index = 0
    names = request.POST.getlist("action")
    return names[index] if 0 <= index < len(names) else ""


class CheckedActions:
    """Refuses, with a message, an action post that admin's own form never sends: an
    action the user does not have (Django lists the page again with no word about that
    action), or a selected id that is not a whole number within the column's range
    (Django filters on it as it comes: a 500). Nothing is changed then."""

    def changelist_view(self, request, extra_context=None):
        if (
            request.method == "POST"
            and posted_action(request)
            and "_save" not in request.POST  # the list's own Save (list_editable)
            and self.has_view_or_change_permission(request)
        ):
            refusal = self.refused_action(request)
            if refusal:
                self.message_user(request, f"{refusal}; nothing was changed.", messages.ERROR)
                return HttpResponseRedirect(request.get_full_path())
        return super().changelist_view(request, extra_context)

    def refused_action(self, request) -> str | None:
        name = posted_action(request)
        if name not in self.get_actions(request):
            return f"There is no action {name!r} for you here"
        field = self.model._meta.pk
        low, high = connection.ops.integer_field_range(field.get_internal_type())
        for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            try:
                pk = field.to_python(value)
            except ValidationError:
                pk = None
            if not isinstance(pk, int) or not low <= pk <= high:
                return f"{value!r} is not the id of a {self.model._meta.verbose_name}"
        return None


class ScheduleControlActions(CheckedActions):
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


class StrategyJobActions(CheckedActions):
    """For the strategies' admin: "Run now" on the selected strategies' jobs (the admin
    scopes its queryset to the user's strategies itself, `visible_to`)."""

    @admin.action(description="Run selected strategies now", permissions=["change"])
    def run_strategies_now(self, request, queryset):
        job_ids = [registry.strategy_job_id(pk) for pk in queryset.values_list("pk", flat=True)]
        apply(
            self,
            request,
            Schedule.objects.filter(job_id__in=job_ids),
            control.run_now,
            "asked to run now",
        )
