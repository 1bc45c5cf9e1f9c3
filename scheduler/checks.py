"""System checks for the scheduler settings: a mistake fails `manage.py check` with an id and
a hint instead of surfacing as a traceback in a running process."""

from django.conf import settings
from django.core.checks import Error, register

from .backends import BACKENDS
from .slots import zone


@register()
def check_scheduler_settings(app_configs=None, **kwargs):
    errors = []
    backend = settings.SCHEDULER_BACKEND
    if backend == "celery":
        errors.append(
            Error(
                "SCHEDULER_BACKEND=celery is not available in this version.",
                hint="Use SCHEDULER_BACKEND=apscheduler (the default); the Celery backend "
                "arrives in a later release.",
                id="scheduler.E002",
            )
        )
    elif backend not in BACKENDS:
        errors.append(
            Error(
                f"SCHEDULER_BACKEND={backend!r} is not a scheduler backend.",
                hint=f"Set SCHEDULER_BACKEND to one of: {', '.join(BACKENDS)}.",
                id="scheduler.E001",
            )
        )
    if not isinstance(settings.SCHEDULER_AUTOSTART, bool):
        errors.append(
            Error(
                f"SCHEDULER_AUTOSTART={settings.SCHEDULER_AUTOSTART!r} is not true or false.",
                hint="Set SCHEDULER_AUTOSTART=true to run the scheduler inside the web "
                "process, or false when `manage.py runscheduler` runs it.",
                id="scheduler.E003",
            )
        )
    try:
        zone(settings.SCHEDULER_TIMEZONE)
    except ValueError:
        errors.append(
            Error(
                f"SCHEDULER_TIMEZONE={settings.SCHEDULER_TIMEZONE!r} is not a time zone.",
                hint="Use an IANA name such as UTC or Europe/Rome.",
                id="scheduler.E004",
            )
        )
    minimums = {
        "SCHEDULER_THREADS": 1,
        "SCHEDULER_SHUTDOWN_GRACE": 0,
        "SCHEDULER_HEARTBEAT_SECONDS": 1,
    }
    for name, lowest in minimums.items():
        value = getattr(settings, name)
        if not isinstance(value, int) or value < lowest:
            errors.append(
                Error(
                    f"{name}={value!r} is not a whole number of at least {lowest}.",
                    hint=f"Set {name} to a whole number, {lowest} or more.",
                    id="scheduler.E005",
                )
            )
    return errors
