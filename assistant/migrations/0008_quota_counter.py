from django.db import migrations, models


class Migration(migrations.Migration):
    """The per-user quota counter gets a name of its own ("usage" named four things), and the
    never-set "finalizing" status goes."""

    dependencies = [
        ("assistant", "0007_answer_heartbeat"),
    ]

    operations = [
        migrations.RenameModel("UsageCounter", "QuotaCounter"),
        migrations.AlterField(
            model_name="message",
            name="status",
            field=models.CharField(
                choices=[
                    ("created", "Waiting"),
                    ("retrieving", "Searching…"),
                    ("generating", "Writing…"),
                    ("succeeded", "Done"),
                    ("failed", "Failed"),
                    ("cancelled", "Stopped"),
                    ("interrupted", "Interrupted"),
                ],
                default="created",
                max_length=12,
            ),
        ),
    ]
