"""Sweeps belong to the run that measured them: the bare run id becomes a foreign key.

Existing rows keep their run where that run still exists; a sweep whose run is gone
(or a lab sweep without one) is then visible to staff only.
"""

from django.db import migrations, models
import django.db.models.deletion


def link_runs(apps, schema_editor):
    Sweep = apps.get_model("kernels", "Sweep")
    Run = apps.get_model("labs", "Run")
    Sweep.objects.filter(legacy_run_id__in=Run.objects.values("pk")).update(
        run_id=models.F("legacy_run_id")
    )


def unlink_runs(apps, schema_editor):
    Sweep = apps.get_model("kernels", "Sweep")
    Sweep.objects.exclude(run=None).update(legacy_run_id=models.F("run_id"))


class Migration(migrations.Migration):
    dependencies = [
        ("kernels", "0001_initial"),
        ("labs", "0002_run_shared"),
    ]

    operations = [
        migrations.RenameField("sweep", "run_id", "legacy_run_id"),
        migrations.AddField(
            model_name="sweep",
            name="run",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="sweeps",
                to="labs.run",
            ),
        ),
        migrations.RunPython(link_runs, unlink_runs),
        migrations.RemoveField("sweep", "legacy_run_id"),
    ]
