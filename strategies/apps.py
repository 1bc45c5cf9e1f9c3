from django.apps import AppConfig


class StrategiesConfig(AppConfig):
    name = "strategies"
    verbose_name = "Strategies"

    def ready(self):
        from scheduler.signals import run_finished

        from .jobs import run_finished_receiver

        # The scheduler imports no other app: it announces each finished run, and the
        # strategies count their own failures in a row from that (auto-stop).
        run_finished.connect(run_finished_receiver, dispatch_uid="strategies.run_finished")
