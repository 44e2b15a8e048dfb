"""Making sweeps owned keeps the rows that were there and links them to their runs."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from portal.labs.kernels.models import Sweep as CurrentSweep

BEFORE = [("kernels", "0001_initial"), ("labs", "0002_run_shared")]


@pytest.mark.django_db(transaction=True)
def test_existing_sweeps_are_kept_and_linked_to_the_run_that_still_exists(owner):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Run = old.get_model("labs", "Run")
    Sweep = old.get_model("kernels", "Sweep")
    run = Run.objects.create(
        owner_id=owner.pk, lab_id="kernels", queue="cpu", time_limit_s=60, soft_time_limit_s=50
    )
    linked = Sweep.objects.create(run_id=run.pk, device="cpu")
    gone = Sweep.objects.create(run_id=run.pk + 1000, device="cpu")
    bench = Sweep.objects.create(run_id=None, device="cuda:0", source="bench")

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # back to the latest schema
    assert {s.pk: s.run_id for s in CurrentSweep.objects.all()} == {
        linked.pk: run.pk,
        gone.pk: None,
        bench.pk: None,
    }
