"""System checks for the scheduler settings: a mistake fails `manage.py check` with an id and
a hint instead of surfacing as a traceback in a running process. Each engine checks its own
settings too (`SchedulerBackend.check_settings`, registered by `scheduler.backends`)."""

from django.conf import settings
from django.core.checks import Error, register

from .registry import BACKENDS
from .slots import zone


@register()
def check_scheduler_settings(app_configs=None, **kwargs):
    errors = []
    backend = settings.SCHEDULER_BACKEND
    if backend not in BACKENDS:
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
    if settings.REDIS_URL.startswith("rediss://") and settings.REDIS_SSL_CERT_REQS not in {
        "required",
        "optional",
        "none",
    }:
        errors.append(
            Error(
                "REDIS_URL is a rediss:// (TLS) URL but REDIS_SSL_CERT_REQS is "
                f"{settings.REDIS_SSL_CERT_REQS or 'not set'}.",
                hint="Set REDIS_SSL_CERT_REQS=required to verify the server's certificate, "
                "or none for a server with a self-signed one (Heroku Redis).",
                id="scheduler.E007",
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
