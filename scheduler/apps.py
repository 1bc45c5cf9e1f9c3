from django.apps import AppConfig
from django.db.models.signals import post_migrate


def create_builtin_schedules(sender, using="default", **kwargs):
    """After every `migrate` (any database, production included), create the built-in
    schedules that are missing; existing rows, and an admin's edits, are never touched."""
    from .models import Schedule  # models load after the app registry is ready

    Schedule.objects.db_manager(using).ensure_builtin()


class SchedulerConfig(AppConfig):
    name = "scheduler"
    verbose_name = "Scheduler"

    def ready(self):
        # Imported here, not at the top: they import the models, which Django loads
        # after this module. Importing them registers the system checks.
        from . import backends, checks, jobs, signals  # noqa: F401  (checks: registers)
        from .models import CHANGE_HOOKS

        # A collection's success refreshes the health report (`registry.Task`).
        signals.run_finished.connect(jobs.refresh_health, dispatch_uid="refresh_health")
        # The engine's copy of the schedules, if it keeps one, follows every write.
        if backends.schedules_changed not in CHANGE_HOOKS:
            CHANGE_HOOKS.append(backends.schedules_changed)
        post_migrate.connect(create_builtin_schedules, sender=self)
