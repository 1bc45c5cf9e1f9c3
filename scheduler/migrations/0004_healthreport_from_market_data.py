"""`HealthReport` moves from `market_data` to `scheduler`: the health check records the
database, the broker and the scheduler lock, which are the scheduler's.

The table and its rows stay (renamed), and so does its content type (relabelled), so the
permissions that point at it and admin's history of it survive the move.
"""

import django.utils.timezone
from django.db import migrations, models


def relabel_content_type(apps, schema_editor, old="market_data", new="scheduler"):
    content_types = apps.get_model("contenttypes", "ContentType").objects.using(
        schema_editor.connection.alias
    )
    if not content_types.filter(app_label=new, model="healthreport").exists():
        content_types.filter(app_label=old, model="healthreport").update(app_label=new)


def relabel_back(apps, schema_editor):
    relabel_content_type(apps, schema_editor, old="scheduler", new="market_data")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("market_data", "0001_initial"),
        ("scheduler", "0003_status_pages_metrics_tokens"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="HealthReport",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "status",
                            models.CharField(
                                choices=[("ok", "ok"), ("warn", "warning"), ("fail", "failing")],
                                max_length=4,
                            ),
                        ),
                        ("summary", models.CharField(max_length=500)),
                        ("checks", models.JSONField(default=list)),
                    ],
                    options={
                        "ordering": ["-created_at"],
                        "indexes": [
                            models.Index(fields=["created_at"], name="healthreport_created_idx")
                        ],
                        "db_table": "market_data_healthreport",
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="healthreport", table=None),
        migrations.RunPython(relabel_content_type, relabel_back),
    ]
