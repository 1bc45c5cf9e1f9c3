"""The Celery app for `SCHEDULER_BACKEND=celery`: `celery -A altar worker` and beat.

Settings come from Django's, under the `CELERY_` namespace (see `altar/settings.py`), and
tasks are autodiscovered from each app's `tasks.py`. The hub sends one task,
`scheduler.run_job` (`scheduler/backends/celery/tasks.py`, listed in `CELERY_IMPORTS`),
which hands the slot to the one execution path.
"""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "altar.settings")

app = Celery("altar")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def refuse_without_the_celery_backend(**kwargs) -> None:
    """A worker on the APScheduler backend would consume nothing and its embedded beat
    (`-B`) would fail: stop at once with one line saying what to change."""
    from django.conf import settings

    if settings.SCHEDULER_BACKEND != "celery":
        raise SystemExit(
            f"celery worker needs SCHEDULER_BACKEND=celery (it is "
            f"{settings.SCHEDULER_BACKEND!r}); on the APScheduler backend the web process "
            "schedules: scale the worker process type to 0"
        )
