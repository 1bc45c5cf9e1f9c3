from django.apps import AppConfig
from django.db.models.signals import post_migrate


def create_builtin_schedules(sender, using="default", **kwargs):
    """After every `migrate` (any database, production included), create the built-in
    schedules that are missing; existing rows, and an admin's edits, are never touched."""
    from .models import Schedule

    Schedule.objects.db_manager(using).ensure_builtin()


class SchedulerConfig(AppConfig):
    name = "scheduler"
    verbose_name = "Scheduler"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)

        post_migrate.connect(create_builtin_schedules, sender=self)
