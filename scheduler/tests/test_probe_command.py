import pytest
from django.core.management import CommandError, call_command

from scheduler.models import Schedule

pytestmark = pytest.mark.django_db


def test_it_creates_n_probe_schedules_and_clears_them():
    call_command(
        "probe", "--count", "3", "--interval", "2", "--sleep", "0.5", "--max-attempts", "2"
    )
    probes = Schedule.objects.filter(task="probe").order_by("job_id")
    assert [p.job_id for p in probes] == ["probe_1", "probe_2", "probe_3"]
    assert all(p.interval_seconds == 2 and p.kwargs == {"sleep": 0.5} for p in probes)
    assert all(p.max_attempts == 2 for p in probes)
    call_command("probe", "--clear")
    assert not Schedule.objects.filter(task="probe").exists()
    assert Schedule.objects.filter(job_id="health_check").exists()


def test_a_bad_interval_is_one_readable_error():
    with pytest.raises(CommandError, match="probe_1: Ensure this value is greater than or equal"):
        call_command("probe", "--interval", "0")
    assert not Schedule.objects.filter(task="probe").exists()
