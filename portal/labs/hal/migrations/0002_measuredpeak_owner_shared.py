"""Measured peaks get an owner and a `shared` flag; only shared rows set a chip's peaks.

Existing rows: a system-benchmark run's row (its note names the run) keeps that run's
owner and stays shared only if the owner is staff; a row recorded through the staff API
(no run in the note) stays shared; a run-less system-benchmark row is not shared.
"""

import re

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


RUN_IN_NOTE = re.compile(r"system benchmark run #(\d+)")


def backfill(apps, schema_editor):
    MeasuredPeak = apps.get_model("hal", "MeasuredPeak")
    Run = apps.get_model("labs", "Run")
    for row in MeasuredPeak.objects.all().only("pk", "note"):
        match = RUN_IN_NOTE.search(row.note)
        if match is None:
            shared = not row.note.startswith("system benchmark")
            MeasuredPeak.objects.filter(pk=row.pk).update(shared=shared)
            continue
        run = Run.objects.filter(pk=int(match.group(1))).select_related("owner").first()
        owner = run.owner if run is not None else None
        MeasuredPeak.objects.filter(pk=row.pk).update(
            owner=owner, shared=owner is not None and owner.is_staff
        )


class Migration(migrations.Migration):

    dependencies = [
        ('hal', '0001_initial'),
        ('labs', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='measuredpeak',
            name='owner',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='measured_peaks', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='measuredpeak',
            name='shared',
            field=models.BooleanField(default=False, verbose_name='shared'),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
