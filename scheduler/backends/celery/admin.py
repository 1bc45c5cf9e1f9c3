"""django-celery-beat's periodic tasks in admin: a read-only mirror of the schedules.

Imported by `scheduler/admin.py` (admin autodiscovers only each app's own `admin.py`).
"""

from django.contrib import admin, messages
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

from . import projection

if admin.site.is_registered(PeriodicTask):
    admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class ManagedPeriodicTaskAdmin(PeriodicTaskAdmin):
    """django-celery-beat's list, read-only: under the Celery backend its rows mirror the
    schedules (beat sends from `Schedule`, never from this table), so edits belong under
    Schedules and a row added here would never run."""

    list_display = ("name", "managed_by_hub", "enabled", "scheduler", "queue", "last_run_at")
    actions = None

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(boolean=True, description="managed by the hub")
    def managed_by_hub(self, obj) -> bool:
        return projection.is_managed(obj)

    def changelist_view(self, request, extra_context=None):
        messages.info(request, projection.MANAGED_NOTE)
        return super().changelist_view(request, extra_context)
