"""Labs are registered in code: what they are, what they take, what they return, where they run.

Each lab is a sub-app (portal/labs/<lab>/): its `lab.py` defines `Params`, `Result`
and `run` and one `Lab(...)`; its AppConfig.ready() calls `register_lab()` with it.
The labs platform (runs, Celery execution, streaming) looks labs up here by id.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from django.db import models
from django.utils.functional import Promise
from pydantic import BaseModel, ConfigDict

from portal.labs.context import RunContext


class DeviceClass(models.TextChoices):
    CPU = "cpu", "CPU"
    GPU = "gpu", "GPU"
    ANY = "any", "CPU or GPU"


RunFunction = Callable[[Any, RunContext], dict[str, Any] | None]


class ResultPart(BaseModel):
    """A nested part of a lab's result. Keys a model does not declare are kept, so results
    stored before a field was declared (or by a newer worker) still load."""

    model_config = ConfigDict(extra="allow")


class LabResult(ResultPart):
    """Base of every lab's `Result`: the shape of what `run` returns, stored in Run.result.

    `finish_run` validates a returned result against the lab's model; readers (report
    pages, the compare page, Feishu) parse a stored one with `Result.of(run)` instead of
    picking keys out of the dict.
    """

    # fields the compare page leaves out (echoes of the parameters, chart data)
    summary_exclude: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def of(cls, run: Any) -> Self:
        """The typed result of a finished run (`run.result`, a dict)."""
        return cls.model_validate(run.result or {})

    def summary(self) -> dict[str, Any]:
        """The figures the compare page puts side by side: scalars, and the scalars of
        nested objects one level down as `name.key`; lists (tables, points) are left to
        the lab's own pages."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump(mode="json").items():
            if name in self.summary_exclude:
                continue
            if isinstance(value, dict):
                for key, inner in value.items():
                    if _is_scalar(inner):
                        out[f"{name}.{key}"] = inner
            elif _is_scalar(value):
                out[name] = value
        return out


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


@dataclass(frozen=True)
class Lab:
    """A lab: a parameter schema (pydantic) and a function that runs it.

    `run(params, ctx)` receives the validated parameters (an instance of
    `params`) and a RunContext; it streams through ctx and returns the final
    result (or calls ctx.result()), a dict of the shape of `result`. It must poll ctx.cancelled() between steps.
    The defaults of `params` must be valid and finish in a few minutes on a
    2-core CPU worker.
    """

    id: str
    # gettext_lazy: shown in the user's language
    title: str | Promise
    description: str | Promise
    params: type[BaseModel]
    result: type[LabResult]
    run: RunFunction
    device: DeviceClass = DeviceClass.ANY
    week: int | None = None
    time_limit_s: int = 15 * 60
    soft_time_limit_s: int | None = None
    # A lost run of an idempotent lab may be retried instead of ending `lost`.
    idempotent: bool = False
    # Holds a worker slot for hours (a deployment): runs on the `long` queue route
    # (settings.PORTAL_QUEUE_ROUTES["long"]), served by its own worker, never a lab's slot.
    long_running: bool = False
    tags: tuple[str, ...] = field(default_factory=tuple)
    # A lab's own report page for a finished run: a URL name taking the run's pk
    # (the run page links to it once the run has a result).
    report_url_name: str | None = None

    def __post_init__(self) -> None:
        if not self.id.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"lab id {self.id!r} must be a slug")

    @property
    def route(self) -> str:
        """The PORTAL_QUEUE_ROUTES key its runs are queued by."""
        return "long" if self.long_running else str(self.device)

    @property
    def soft_limit(self) -> int:
        return self.soft_time_limit_s or max(self.time_limit_s - 30, int(self.time_limit_s * 0.9))

    def parameter_schema(self) -> dict[str, Any]:
        # pydantic rebuilds the schema on every call (several ms); it is fixed per class.
        # A copy: callers may annotate it.
        return copy.deepcopy(_json_schema(self.params))

    def validate_result(self, raw: dict[str, Any]) -> LabResult:
        """Raises pydantic.ValidationError when `raw` is not the shape of `result`."""
        return self.result.model_validate(raw)

    def validate(self, raw: dict[str, Any], *, user: Any = None) -> BaseModel:
        """Raises pydantic.ValidationError with field errors (unknown names included).

        `user` (at launch) reaches the validators as `info.context["user"]`, for choices
        only some users may make (a deployment on 0.0.0.0 is staff-only).
        """
        context = {"user": user} if user is not None else None
        return _strict(self.params).model_validate(raw, context=context)


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
