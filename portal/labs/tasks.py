from __future__ import annotations

from celery import shared_task

from portal.labs import runner, services


@shared_task(name="labs.execute_run", bind=True, acks_late=True, reject_on_worker_lost=True)
def execute_run(self, run_id: int) -> str:  # noqa: ANN001 - Celery's bound task
    """Run a lab; time limits come from the run (apply_async), the queue from its device class."""
    return runner.execute_run(run_id, worker=self.request.hostname or "worker")


@shared_task(name="labs.reap_lost_runs", ignore_result=True)
def reap_lost_runs() -> list[int]:
    """Periodic (beat): end runs whose worker stopped sending heartbeats."""
    return services.reap_lost_runs()
