"""Scheduler engines, each a projection of the `Schedule` rows, and the only code that
knows which engine runs.

`registry.BACKENDS` maps the `SCHEDULER_BACKEND` setting to the class, like Django's mail
backends; the base class (`base.SchedulerBackend`) documents what an engine does and the
hooks where engines differ. Only this package and `altar/` import `apscheduler`, `celery`,
`django_apscheduler` or `django_celery_beat`.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.checks import register
from django.utils.module_loading import import_string

from ..checks import check_scheduler_settings
from ..engine import in_web
from ..registry import BACKENDS

logger = logging.getLogger("scheduler")


def get_backend_class():
    name = settings.SCHEDULER_BACKEND
    if name not in BACKENDS:
        raise ValueError(
            f"SCHEDULER_BACKEND={name!r} is not available; choose one of {', '.join(BACKENDS)}"
        )
    return import_string(BACKENDS[name])


def schedules_changed(job_ids: list[str]) -> None:
    """`Schedule` rows changed (in the writer's transaction): the configured engine's hook.
    Registered in `SchedulerConfig.ready()`; the setting is read at call time."""
    if settings.SCHEDULER_BACKEND in BACKENDS:
        get_backend_class().schedules_changed(job_ids)


@register()
def check_backend_settings(app_configs=None, **kwargs):
    """The configured engine's own settings checks (an unknown name is scheduler.E001)."""
    if settings.SCHEDULER_BACKEND not in BACKENDS:
        return []
    return get_backend_class().check_settings()


def autostart_in_web():
    """Run the scheduler in this web process when `SCHEDULER_AUTOSTART` is on and the
    engine runs in web processes at all (`altar/wsgi.py` calls this). Settings errors are
    logged, and no scheduler starts: a web server does not run `manage.py check`."""
    errors = check_scheduler_settings()
    if not errors:
        errors = [e for e in check_backend_settings() if e.is_serious()]
    for error in errors:
        logger.error("Scheduler not started: %s (%s) %s", error.msg, error.id, error.hint)
    if errors or settings.SCHEDULER_AUTOSTART is not True:
        return None
    backend_class = get_backend_class()
    return in_web.start(backend_class) if backend_class.runs_in_web else None


def stop_in_web() -> None:
    """Stop the in-web scheduler, if this process runs one (gunicorn's `worker_exit`)."""
    in_web.stop()
