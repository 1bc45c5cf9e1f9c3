"""The Celery app for `SCHEDULER_BACKEND=celery`: `celery -A altar worker` and beat.

Settings come from Django's, under the `CELERY_` namespace (see `altar/settings.py`), and
tasks are autodiscovered from each app's `tasks.py`. The hub sends one task,
`scheduler.run_job` (`scheduler/backends/celery_tasks.py`, listed in `CELERY_IMPORTS`),
which hands the slot to the one execution path.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "altar.settings")

app = Celery("altar")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
