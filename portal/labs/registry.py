"""Labs are registered in code: what they are, what they take, where they run.

Each lab module calls `register_lab(Lab(...))` at import; the app that owns the
lab imports that module in its AppConfig.ready(). The labs platform (runs,
Celery execution, streaming) looks labs up here by id.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from pydantic import BaseModel

from portal.labs.context import RunContext


class DeviceClass(models.TextChoices):
    CPU = "cpu", "CPU"
    GPU = "gpu", "GPU"
    ANY = "any", "CPU or GPU"


RunFunction = Callable[[Any, RunContext], dict[str, Any] | None]


@dataclass(frozen=True)
class Lab:
    """A lab: a parameter schema (pydantic) and a function that runs it.

    `run(params, ctx)` receives the validated parameters (an instance of
    `params`) and a RunContext; it streams through ctx and returns the final
    result (or calls ctx.result()). It must poll ctx.cancelled() between steps.
    The defaults of `params` must be valid and finish in a few minutes on a
    2-core CPU worker.
    """

    id: str
    title: str
    description: str
    params: type[BaseModel]
    run: RunFunction
    device: DeviceClass = DeviceClass.ANY
    week: int | None = None
    time_limit_s: int = 15 * 60
    soft_time_limit_s: int | None = None
    # A lost run of an idempotent lab may be retried instead of ending `lost`.
    idempotent: bool = False
    tags: tuple[str, ...] = field(default_factory=tuple)
    # A lab's own report page for a finished run: a URL name taking the run's pk
    # (the run page links to it once the run has a result).
    report_url_name: str | None = None

    def __post_init__(self) -> None:
        if not self.id.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"lab id {self.id!r} must be a slug")

    @property
    def soft_limit(self) -> int:
        return self.soft_time_limit_s or max(self.time_limit_s - 30, int(self.time_limit_s * 0.9))

    def parameter_schema(self) -> dict[str, Any]:
        # pydantic rebuilds the schema on every call (several ms); it is fixed per class.
        # A copy: callers may annotate it.
        return copy.deepcopy(_json_schema(self.params))

    def validate(self, raw: dict[str, Any]) -> BaseModel:
        """Raises pydantic.ValidationError with field errors (unknown names included)."""
        return _strict(self.params).model_validate(raw)


@functools.cache
def _json_schema(params: type[BaseModel]) -> dict[str, Any]:
    return params.model_json_schema()


@functools.cache
def _strict(params: type[BaseModel]) -> type[BaseModel]:
    """The lab's parameter model, refusing names it does not know (a typo is an error,
    not a silently ignored setting). The run function still gets an instance of it."""
    if params.model_config.get("extra") == "forbid":
        return params
    return type(
        params.__name__, (params,), {"model_config": {**params.model_config, "extra": "forbid"}}
    )


_registry: dict[str, Lab] = {}


def register_lab(lab: Lab) -> Lab:
    existing = _registry.get(lab.id)
    if existing is not None and existing.run is not lab.run:
        raise ValueError(f"lab id {lab.id!r} is registered twice")
    _registry[lab.id] = lab
    return lab


def get_lab(lab_id: str) -> Lab | None:
    return _registry.get(lab_id)


def all_labs() -> list[Lab]:
    return sorted(_registry.values(), key=lambda lab: (lab.week or 99, lab.id))


def catalogue_version() -> str:
    """A fingerprint of the registered labs and their parameters: the key of the Labs page's
    cached launch forms, so a lab registered, removed or changed renders afresh."""
    key = tuple((lab.id, lab.title, id(lab.params)) for lab in all_labs())
    if _catalogue[0] != key:
        digest = hashlib.sha1(
            json.dumps(
                [
                    (lab.id, lab.title, lab.description, lab.parameter_schema())
                    for lab in all_labs()
                ],
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()[:16]
        _catalogue[:] = [key, digest]
    return str(_catalogue[1])


_catalogue: list[Any] = [None, ""]
