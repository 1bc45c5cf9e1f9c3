"""django-apscheduler's own admin is removed: its "run selected jobs" action starts a second
scheduler inside the web request, and its execution log is not the hub's history (`JobRun`).
The job store's table is the engine's, written only by the lock holder."""

from django.contrib import admin
from django_apscheduler.models import DjangoJob, DjangoJobExecution

for model in (DjangoJob, DjangoJobExecution):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
