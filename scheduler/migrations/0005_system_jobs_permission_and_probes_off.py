"""The "manage system jobs" permission, and existing probe schedules disabled: `probe` is a
diagnostic task, offered only with SCHEDULER_DIAGNOSTIC_TASKS, and a production hub must not
keep running one that an earlier version let anyone schedule."""

from django.db import migrations
from django.db.models import F
from django.utils import timezone


def disable_probes(apps, schema_editor):
    Schedule = apps.get_model("scheduler", "Schedule")
    SchedulerState = apps.get_model("scheduler", "SchedulerState")
    if Schedule.objects.filter(task="probe", enabled=True).update(
        enabled=False, updated_at=timezone.now()
    ):
        # A running scheduler reloads on the change count, as for any other edit.
        SchedulerState.objects.filter(pk=1).update(changes=F("changes") + 1)


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler", "0004_healthreport_from_market_data"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="schedule",
            options={
                "ordering": ["job_id"],
                "permissions": [
                    ("manage_system_jobs", "Can read and change system jobs and their runs")
                ],
            },
        ),
        migrations.RunPython(disable_probes, migrations.RunPython.noop),
    ]
