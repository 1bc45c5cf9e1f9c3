"""Admin for schedules (what runs when), job runs (read-only history), API tokens and the
health check's reports. The engines' own tables have their admin in their backend: hidden
(django-apscheduler's) or read-only (django-celery-beat's, a mirror of the schedules).
"""

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from . import registry
from .backends.apscheduler import admin as apscheduler_admin  # noqa: F401  (registers)
from .backends.celery import admin as celery_admin  # noqa: F401  (registers)
from .models import (
    LIST_LENGTH,
    ApiToken,
    HealthReport,
    JobRun,
    Schedule,
    SchedulerState,
    manages_system_jobs,
    one_line,
    queue_names,
)
from .web import tokens
from .web.admin_actions import ScheduleControlActions
from .web.admin_input import AdminInput


class OwnedAdmin:
    """Lists, searches, filter sidebars, change and history pages and actions all start
    from `get_queryset`: scoped here by the model's one ownership rule (`visible_to`)."""

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


class ReadOnlyAdmin:
    """For records only the hub writes: shown, never added, changed or deleted here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ScheduleForm(forms.ModelForm):
    task = forms.ChoiceField(
        choices=registry.task_choices, help_text="A task from the hub's registry."
    )
    queue = forms.ChoiceField(
        choices=lambda: [(name, name) for name in queue_names()],
        help_text="The Celery queue its runs are sent to (celery backend).",
    )

    def clean_job_id(self):
        """A schedule made here is a system job: a strategy's job id would be taken by
        the strategy's start (its task and arguments reset), so it is refused outright."""
        job_id = self.cleaned_data["job_id"]
        if job_id.startswith(registry.STRATEGY_JOB_PREFIX):
            raise forms.ValidationError(Schedule.STRATEGY_PREFIX_TAKEN)
        return job_id

    class Meta:
        model = Schedule
        fields = [
            "job_id",
            "description",
            "task",
            "kwargs",
            "enabled",
            "kind",
            "interval_seconds",
            "timezone",
            "cron_minute",
            "cron_hour",
            "cron_day_of_month",
            "cron_month",
            "cron_day_of_week",
            "timeout_seconds",
            "misfire_grace_seconds",
            "max_attempts",
            "retry_backoff_seconds",
            "queue",
            "max_running",
        ]


@admin.register(Schedule)
class ScheduleAdmin(OwnedAdmin, AdminInput, ScheduleControlActions, admin.ModelAdmin):
    form = ScheduleForm
    list_display = [
        "job_id",
        "task",
        "describe_trigger",
        "enabled",
        "next_run",
        "misfire_grace_seconds",
        "max_attempts",
        "queue",
    ]
    list_filter = ["enabled", "kind", "task", "queue"]
    search_fields = ["job_id", "description"]
    readonly_fields = ["anchor", "created_at", "updated_at"]
    actions = ["run_now", "pause_jobs", "resume_jobs"]
    fieldsets = [
        (None, {"fields": ["job_id", "description", "task", "kwargs", "enabled"]}),
        ("Trigger", {"fields": ["kind", "interval_seconds", "anchor", "timezone"]}),
        (
            "Cron fields",
            {
                "fields": [
                    (
                        "cron_minute",
                        "cron_hour",
                        "cron_day_of_month",
                        "cron_month",
                        "cron_day_of_week",
                    )
                ]
            },
        ),
        (
            "Execution",
            {
                "fields": [
                    "timeout_seconds",
                    "misfire_grace_seconds",
                    "max_attempts",
                    "retry_backoff_seconds",
                    "queue",
                    "max_running",
                ]
            },
        ),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]

    def changelist_view(self, request, extra_context=None):
        """The page header says which backend runs and which process holds the lock."""
        state = SchedulerState.get()
        extra_context = {
            **(extra_context or {}),
            "scheduler_backend": state.describe_backend(),
            "scheduler_holder": state.describe_holder(),
            "scheduler_outage": state.outage(),
        }
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request) -> bool:
        """A schedule made here is a system job (strategies make their own)."""
        return super().has_add_permission(request) and manages_system_jobs(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self._reaches(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._reaches(request, obj)

    def _reaches(self, request, obj) -> bool:
        """A system job is changed by its managers only; a strategy's by its owner (the
        queryset already holds only those)."""
        return (
            obj is None
            or registry.strategy_id_of(obj.job_id) is not None
            or manages_system_jobs(request.user)
        )

    @admin.display(description="next run")
    def next_run(self, obj: Schedule):
        return to_the_second(obj.next_fire_time())

    def get_readonly_fields(self, request, obj=None):
        """A job id never changes (history and engines key on it). A strategy's job follows
        its strategy: start, stop and interval are changed on Strategies, so the two never
        disagree."""
        fields = list(self.readonly_fields)
        if obj is not None:
            fields.append("job_id")
            if registry.strategy_id_of(obj.job_id) is not None:
                fields += ["task", "kwargs", "enabled", "kind", "interval_seconds"]
        return fields


@admin.register(JobRun)
class JobRunAdmin(OwnedAdmin, ReadOnlyAdmin, admin.ModelAdmin):
    list_display = [
        "job_id",
        "slot",
        "status_badge",
        "started",
        "finished",
        "duration_text",
        "attempt",
        "owner",
        "short_summary",
    ]
    list_filter = ["status", "job_id"]
    search_fields = ["job_id", "summary"]
    ordering = ["-scheduled_at", "-pk"]
    date_hierarchy = "scheduled_at"
    list_per_page = 100

    class Media:
        css = {"all": ["scheduler/admin.css"]}  # the status colours (no inline style: CSP)

    @admin.display(description="slot", ordering="scheduled_at")
    def slot(self, obj: JobRun):
        return to_the_second(obj.scheduled_at)

    @admin.display(description="started", ordering="started_at")
    def started(self, obj: JobRun):
        return to_the_second(obj.started_at)

    @admin.display(description="finished", ordering="finished_at")
    def finished(self, obj: JobRun):
        return to_the_second(obj.finished_at)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: JobRun):
        return format_html(
            '<span class="run-status run-status-{}">{}</span>', obj.status, obj.get_status_display()
        )

    @admin.display(description="summary")
    def short_summary(self, obj: JobRun):
        """Shortened in the list; the whole text is on the run's page."""
        return one_line(obj.summary, LIST_LENGTH)

    @admin.display(description="duration")
    def duration_text(self, obj: JobRun):
        duration = obj.duration
        return f"{duration.total_seconds():.3f}s" if duration is not None else "—"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in JobRun._meta.fields] + ["duration_text"]


def to_the_second(moment) -> str:
    """A time as lists show it: local, to the second (runs of a 15 s job differ there)."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


@admin.register(ApiToken)
class ApiTokenAdmin(OwnedAdmin, admin.ModelAdmin):
    """API tokens: created here and shown once, on the page that follows the save (never
    put in a message, which would travel in a cookie); only their digest is kept."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at"]
    list_filter = ["user"]
    search_fields = ["name", "user__username", "prefix"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a token is revoked (deleted) and issued again, never edited

    def get_list_filter(self, request):
        """The user filter would list every user's name: a superuser's only."""
        return self.list_filter if request.user.is_superuser else []

    def get_fields(self, request, obj=None):
        if request.user.is_superuser:
            return self.fields
        return [field for field in self.fields if field != "user"]

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            if not request.user.is_superuser:
                obj.user = request.user
            obj._raw_token = tokens.fill(obj)
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        response = TemplateResponse(
            request,
            "admin/scheduler/apitoken/created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "token": obj,
                "raw_token": obj._raw_token,
                "title": "API token created",
            },
        )
        response["Cache-Control"] = "no-store"
        return response


@admin.register(HealthReport)
class HealthReportAdmin(OwnedAdmin, admin.ModelAdmin):
    """What each hourly health check found; written by the check only (old reports may
    be deleted here, as `cleanup_old_data` does). The hub's own health: for managers of
    system jobs."""

    list_display = ["created_at", "status", "summary"]
    list_filter = ["status"]
    readonly_fields = ["created_at", "status", "summary", "checks"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and manages_system_jobs(request.user)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and manages_system_jobs(request.user)
