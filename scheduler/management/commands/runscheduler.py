"""`manage.py runscheduler`: the scheduler as its own process (SCHEDULER_AUTOSTART=false)."""

import os
import signal
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from scheduler.runner import SchedulerRunner


class Command(BaseCommand):
    help = (
        "Run the scheduler in this process, for deployments that keep it out of the web "
        "process (with SCHEDULER_BACKEND=celery: celery beat). SIGTERM or SIGINT stops it "
        "cleanly."
    )

    def handle(self, *args, **options):
        if settings.SCHEDULER_BACKEND == "celery":
            return self.run_beat(options["verbosity"])  # the backend's own scheduler process
        try:
            self.runner = SchedulerRunner()
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        self.runner.run()  # until a signal sets its stop event

        grace = settings.SCHEDULER_SHUTDOWN_GRACE
        if self.runner.started:
            self.stdout.write(f"Stopping scheduler: running jobs get up to {grace}s to finish")
        interrupted = self.runner.stop(grace)
        if interrupted:
            # Their threads cannot be killed and would hold the interpreter open: the runs
            # are recorded as interrupted, so leave now.
            self.stdout.write(f"Scheduler stopped; {interrupted} run(s) recorded as interrupted")
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        return "Scheduler stopped"

    def run_beat(self, verbosity: int) -> str:
        """celery beat with the hub's scheduler class; beat's own SIGTERM/SIGINT handling
        stops it and releases the scheduler lock."""
        from scheduler.backends.celery_beat import run_beat

        run_beat(quiet=verbosity < 1)
        return "Scheduler stopped"

    def on_signal(self, signum, frame):
        """Only set the flag: the loop wakes at once and stops."""
        self.runner.stop_event.set()
