"""The Agent Sandbox's API, mounted at /api/hal/ where it has always answered."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from portal.labs.sandbox.queries import sandbox_runs
from portal.labs.sandbox.rewards import all_rewards
from portal.labs.sandbox.schemas import RewardOut

router = Router()


@router.get("/rewards", response=list[RewardOut])
def list_rewards(request: HttpRequest) -> list[dict[str, str]]:
    return [{"name": r.name, "description": r.description} for r in all_rewards()]


@router.get("/compare", response=list[dict[str, Any]])
def compare_runs(request: HttpRequest, run: str = "") -> Any:
    """The caller's succeeded Agent Sandbox runs (all, or those in `run=1,2`) side by side."""
    ids = [int(i) for i in run.split(",") if i.strip().isdigit()]
    rows = sandbox_runs(request.user, ids or None)
    for row in rows:
        for name in ("created_at", "finished_at"):
            row[name] = row[name].isoformat() if row[name] is not None else None
    return rows
