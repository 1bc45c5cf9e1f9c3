"""The Celery app for `SCHEDULER_BACKEND=celery`: `celery -A altar worker` and beat.

Settings come from Django's, under the `CELERY_` namespace (see `altar/settings.py`), and
tasks are autodiscovered from each app's `tasks.py`. The hub sends one task,
`scheduler.run_job`, which hands the slot to the one execution path.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "altar.settings")

app = Celery("altar")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def broker_status(timeout: float = 3.0) -> tuple[bool, str]:
    """Whether the broker answers, within `timeout` seconds: (ok, message). For health
    checks; the message never contains the broker URL (it may hold a password)."""
    from django.conf import settings

    if not settings.CELERY_BROKER_URL:
        return False, "no broker: REDIS_URL is not set"
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
            connection.default_channel.client.ping()
    except Exception as exc:
        return False, f"broker unreachable: {type(exc).__name__}"
    return True, "broker ok"
