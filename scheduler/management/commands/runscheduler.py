"""`manage.py runscheduler`: the scheduler as its own process (SCHEDULER_AUTOSTART=false)."""

from django.core.management.base import BaseCommand, CommandError

from scheduler.backends import get_backend_class


class Command(BaseCommand):
    help = (
        "Run the scheduler in this process, for deployments that keep it out of the web "
        "process (with SCHEDULER_BACKEND=celery: celery beat). SIGTERM or SIGINT stops it "
        "cleanly."
    )

    def handle(self, *args, **options):
        try:
            backend_class = get_backend_class()
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        return backend_class.serve(self.stdout.write, options["verbosity"])
