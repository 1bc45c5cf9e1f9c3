"""`manage.py probe`: create (or clear) probe schedules for tests and benchmarks."""

import math

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from scheduler import registry
from scheduler.models import Schedule


class Command(BaseCommand):
    help = "Create N probe schedules probe_1…probe_N (or remove them with --clear)."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=1, help="How many probe jobs.")
        parser.add_argument("--interval", type=int, default=1, help="Seconds between slots.")
        parser.add_argument("--sleep", type=float, default=0, help="Seconds each run takes.")
        parser.add_argument("--max-attempts", type=int, default=1, dest="max_attempts")
        parser.add_argument("--clear", action="store_true", help="Remove the probe schedules.")

    def handle(self, *args, count, interval, sleep, max_attempts, clear, **options):
        if clear:
            deleted = Schedule.objects.filter(task="probe").delete()[0]
            return f"Removed {deleted} probe schedule(s)"
        if "probe" not in registry.available_tasks():
            raise CommandError(
                "probe is a diagnostic task, offered only with SCHEDULER_DIAGNOSTIC_TASKS=true "
                "(tests and benchmarks)"
            )
        if count < 1:
            raise CommandError("--count must be at least 1")
        if not (math.isfinite(sleep) and sleep >= 0):
            # `nan` and `inf` parse as floats; no database stores them in JSON (a 500).
            raise CommandError(f"--sleep must be a number of seconds, 0 or more, not {sleep}")
        with transaction.atomic():
            for n in range(1, count + 1):
                schedule = Schedule.objects.filter(job_id=f"probe_{n}").first() or Schedule(
                    job_id=f"probe_{n}"
                )
                schedule.task = "probe"
                schedule.kind = Schedule.INTERVAL
                schedule.interval_seconds = interval
                schedule.kwargs = {"sleep": sleep} if sleep else {}
                schedule.max_attempts = max_attempts
                schedule.enabled = True
                try:
                    schedule.full_clean()
                except ValidationError as exc:
                    raise CommandError(f"probe_{n}: {'; '.join(exc.messages)}") from None
                schedule.save()
        return f"{count} probe schedule(s) every {interval}s"
