"""django-celery-beat's tables in admin: read-only, and for superusers only.

Under the Celery backend the periodic tasks mirror the schedules (beat sends from
`Schedule`, never from these tables), so edits belong under Schedules and a row added here
would never run; the mirrored rows' names and descriptions carry every user's strategies.
Imported by `scheduler/admin.py` (admin autodiscovers only each app's own `admin.py`).
"""

from django.contrib import admin, messages
from django_celery_beat import admin as beat_admin
from django_celery_beat import models as beat_models

from . import projection


class MirrorAdmin:
    """Shown to superusers, never added, changed or deleted here."""

    actions = None

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ManagedPeriodicTaskAdmin(MirrorAdmin, beat_admin.PeriodicTaskAdmin):
    list_display = ("name", "managed_by_hub", "enabled", "scheduler", "queue", "last_run_at")

    @admin.display(boolean=True, description="managed by the hub")
    def managed_by_hub(self, obj) -> bool:
        return projection.is_managed(obj)

    def changelist_view(self, request, extra_context=None):
        messages.info(request, projection.MANAGED_NOTE)
        return super().changelist_view(request, extra_context)


def _mirror(base):
    """django-celery-beat's own admin class for a schedule table, read-only."""
    return type(f"Mirror{base.__name__}", (MirrorAdmin, base), {"inlines": []})


ADMINS = {
    beat_models.PeriodicTask: ManagedPeriodicTaskAdmin,
    beat_models.IntervalSchedule: _mirror(beat_admin.IntervalScheduleAdmin),
    beat_models.CrontabSchedule: _mirror(beat_admin.CrontabScheduleAdmin),
    beat_models.SolarSchedule: _mirror(beat_admin.SolarScheduleAdmin),
    beat_models.ClockedSchedule: _mirror(beat_admin.ClockedScheduleAdmin),
}

for model, model_admin in ADMINS.items():
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
