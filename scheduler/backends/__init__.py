"""Scheduler engines. Each is a projection of the `Schedule` rows into one engine.

`BACKENDS` maps the `SCHEDULER_BACKEND` setting to the class, like Django's mail backends.
Only this package and `altar/celery.py` import `apscheduler` or `celery`.
"""

from django.conf import settings
from django.utils.module_loading import import_string

BACKENDS = {
    "apscheduler": "scheduler.backends.apscheduler.APSchedulerBackend",
    "celery": "scheduler.backends.celery.CeleryBackend",
}


def get_backend_class():
    name = settings.SCHEDULER_BACKEND
    if name not in BACKENDS:
        raise ValueError(
            f"SCHEDULER_BACKEND={name!r} is not available; choose one of {', '.join(BACKENDS)}"
        )
    return import_string(BACKENDS[name])
