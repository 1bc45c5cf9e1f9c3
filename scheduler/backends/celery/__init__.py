"""The Celery engine: celery beat sends each slot as a message, Celery workers run it
through the one execution path. Beat's scheduler (`beat.HubScheduler`), the run task
(`tasks`), the broker (`broker`), the mirror of the schedules in django-celery-beat's
table (`projection`) and that table's admin (`admin`)."""

from .engine import CeleryBackend

__all__ = ["CeleryBackend"]
