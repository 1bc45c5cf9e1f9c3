"""Admin for schedules (what runs when) and job runs (read-only history).

django-apscheduler's own admin is removed: its "run selected jobs" action starts a second
scheduler inside the web request, and its execution log is not the hub's history (`JobRun`).
"""

from django import forms
from django.contrib import admin
from django.utils import timezone
from django.utils.translation import ngettext
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from . import registry
from .models import JobRun, Schedule

for model in (DjangoJob, DjangoJobExecution):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


class ScheduleForm(forms.ModelForm):
    task = forms.ChoiceField(
        choices=registry.task_choices, help_text="A task from the hub's registry."
    )

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
            "queue",
            "max_running",
        ]


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
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
    list_editable = ["enabled"]
    list_filter = ["enabled", "kind", "task", "queue"]
    search_fields = ["job_id", "description"]
    readonly_fields = ["anchor", "created_at", "updated_at"]
    actions = ["enable_schedules", "disable_schedules"]
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
                    "queue",
                    "max_running",
                ]
            },
        ),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description="next run")
    def next_run(self, obj: Schedule):
        moment = obj.next_fire_time()
        return timezone.localtime(moment) if moment else "—"

    @admin.action(description="Enable selected schedules", permissions=["change"])
    def enable_schedules(self, request, queryset):
        # QuerySet.update on schedules notifies the scheduler itself (ScheduleQuerySet).
        count = queryset.filter(enabled=False).update(enabled=True)
        self.message_user(
            request, ngettext("%d schedule enabled.", "%d schedules enabled.", count) % count
        )

    @admin.action(description="Disable selected schedules", permissions=["change"])
    def disable_schedules(self, request, queryset):
        count = queryset.filter(enabled=True).update(enabled=False)
        self.message_user(
            request, ngettext("%d schedule disabled.", "%d schedules disabled.", count) % count
        )


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = [
        "job_id",
        "scheduled_at",
        "status",
        "started_at",
        "finished_at",
        "duration_text",
        "attempt",
        "owner",
        "summary",
    ]
    list_filter = ["status", "job_id"]
    search_fields = ["job_id", "summary"]
    ordering = ["-scheduled_at", "-pk"]
    date_hierarchy = "scheduled_at"
    list_per_page = 100

    @admin.display(description="duration")
    def duration_text(self, obj: JobRun):
        duration = obj.duration
        return f"{duration.total_seconds():.3f}s" if duration is not None else "—"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in JobRun._meta.fields] + ["duration_text"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
