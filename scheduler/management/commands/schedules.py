"""`manage.py schedules`: every job, its trigger, next run and last outcome, and who runs
the scheduler. It replaces the guide's `celery_app.conf.beat_schedule` check."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from scheduler.models import JobRun, Schedule, SchedulerState


class Command(BaseCommand):
    help = "List every schedule with its trigger, next run and last outcome."

    def handle(self, *args, **options):
        state = SchedulerState.get()
        self.stdout.write(f"Backend: {state.describe_backend()}")
        self.stdout.write(f"Scheduler lock holder: {state.describe_holder()}")
        rows = [("JOB", "TRIGGER", "ENABLED", "NEXT RUN", "LAST RUN")]
        for schedule in Schedule.objects.all():
            run = JobRun.objects.filter(job_id=schedule.job_id).order_by("-scheduled_at").first()
            nxt = schedule.next_fire_time()
            rows.append(
                (
                    schedule.job_id,
                    schedule.describe_trigger(),
                    "yes" if schedule.enabled else "no",
                    timezone.localtime(nxt).strftime("%Y-%m-%d %H:%M:%S") if nxt else "-",
                    f"{run.status} at {timezone.localtime(run.scheduled_at):%Y-%m-%d %H:%M:%S}"
                    if run
                    else "never",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )
