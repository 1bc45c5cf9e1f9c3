"""`HealthReport` now belongs to `scheduler` (its migration 0004 took the table, its rows
and its content type): here it only leaves this app's state."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("market_data", "0001_initial"),
        ("scheduler", "0004_healthreport_from_market_data"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="HealthReport")],
            database_operations=[],
        ),
    ]
