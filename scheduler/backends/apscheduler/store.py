"""django-apscheduler's job store, served from memory and written behind in batches."""

from __future__ import annotations

import pickle
import threading

from apscheduler.jobstores.memory import MemoryJobStore
from django.db import transaction
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJob
from django_apscheduler.util import get_django_internal_datetime


class ScheduleJobStore(DjangoJobStore):
    """django-apscheduler's store, kept in memory and written behind to its table.

    The engine's one thread dispatches every slot and, with the stock store, wrote the
    job's row once per run (a transaction, SELECT ... FOR UPDATE, a full save) before
    dispatching the next: under load that round trip, not the jobs, set the pace. Only
    this process writes the store, and the hub rebuilds it from `Schedule` and `JobRun` at
    every start, so reads are served from memory and changed jobs are written in batches
    by `flush()` (the runner calls it every half second). The `django_apscheduler_djangojob`
    table still shows every job and its next run time, at most a moment behind.

    Its execution-log listeners are off too: `JobRun` is the one history.
    """

    def __init__(self, pickle_protocol: int = pickle.HIGHEST_PROTOCOL):
        super().__init__(pickle_protocol)
        self._memory = MemoryJobStore()
        self._dirty: set[str] = set()
        self._dirty_lock = threading.Lock()

    def start(self, scheduler, alias):
        super().start(scheduler, alias)
        self._memory.start(scheduler, alias)

    def register_event_listeners(self):
        pass

    def lookup_job(self, job_id):
        return self._memory.lookup_job(job_id)

    def get_due_jobs(self, now):
        return self._memory.get_due_jobs(now)

    def get_next_run_time(self):
        return self._memory.get_next_run_time()

    def get_all_jobs(self):
        return self._memory.get_all_jobs()

    def add_job(self, job):
        self._memory.add_job(job)
        self._mark(job.id)

    def update_job(self, job):
        self._memory.update_job(job)
        self._mark(job.id)

    def remove_job(self, job_id):
        self._memory.remove_job(job_id)
        self._mark(job_id)

    def remove_all_jobs(self):
        self._memory.remove_all_jobs()
        with self._dirty_lock:
            self._dirty.clear()
        DjangoJob.objects.all().delete()

    def _mark(self, job_id: str) -> None:
        with self._dirty_lock:
            self._dirty.add(job_id)

    def flush(self) -> int:
        """Write the jobs changed since the last flush (delete and re-insert, in batches,
        in one transaction). Returns how many job ids were written."""
        with self._dirty_lock:
            dirty, self._dirty = self._dirty, set()
        if not dirty:
            return 0
        rows = []
        for job_id in dirty:
            job = self._memory.lookup_job(job_id)
            if job is not None:
                rows.append(
                    DjangoJob(
                        id=job.id,
                        next_run_time=get_django_internal_datetime(job.next_run_time),
                        job_state=pickle.dumps(job.__getstate__(), self.pickle_protocol),
                    )
                )
        ids = list(dirty)
        with transaction.atomic():
            for start in range(0, len(ids), 500):
                DjangoJob.objects.filter(id__in=ids[start : start + 500]).delete()
            DjangoJob.objects.bulk_create(rows, batch_size=500)
        return len(dirty)
