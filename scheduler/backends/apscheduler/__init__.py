"""The APScheduler engine (the default): django-apscheduler's job store, our slots, our
execution path. `SlotTrigger` is exported here too, under the name that jobs pickled
into the store before this package was split still carry."""

from .engine import APSchedulerBackend, SlotExecutor, SlotTrigger
from .store import ScheduleJobStore

__all__ = ["APSchedulerBackend", "ScheduleJobStore", "SlotExecutor", "SlotTrigger"]
