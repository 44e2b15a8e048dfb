"""What the compare page puts side by side: parameters and the figures of typed results."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from portal.labs.models import Run

log = logging.getLogger(__name__)

Rows = list[tuple[str, list[Any]]]


def result_summary(run: Run) -> dict[str, Any]:
    """The run's result figures through its lab's `Result` model (`summary()`).

    A stored result the model refuses (written by hand, or by a lab version this portal
    does not know) is still shown, key by key, rather than hiding the run.
    """
    try:
        typed = run.typed_result
    except ValidationError as exc:
        log.warning("run %s: stored result is not a %s: %s", run.pk, run.lab_id, exc)
        typed = None
    if typed is not None:
        return typed.summary()
    result = run.result if isinstance(run.result, dict) else {}
    return {k: v for k, v in result.items() if not isinstance(v, dict | list)}


def compare_rows(runs: list[Run]) -> tuple[Rows, Rows]:
    """(parameter rows, result rows): one row per name, one value per run, names sorted;
    the result rows start with where each run ran."""
    param_keys = sorted({k for run in runs for k in run.params})
    params = [(k, [run.params.get(k) for run in runs]) for k in param_keys]
    summaries = [result_summary(run) for run in runs]
    result_keys = sorted({k for summary in summaries for k in summary})
    results: Rows = [
        ("worker", [run.worker or None for run in runs]),
        ("duration_s", [round(run.duration_s, 1) if run.duration_s else None for run in runs]),
    ]
    results += [(k, [summary.get(k) for summary in summaries]) for k in result_keys]
    return params, results
