"""Deploying a model: the `llm-deploy` lab keeps an OpenAI-compatible server up.

The run starts `transformers serve` (with or without continuous batching) or vLLM
(as in `llm-serving`) on the worker
and stays `running` — the platform's heartbeat keeps it alive — until it is
cancelled, its `hours` are over or the server dies. Its URL is on the run page
(progress note, log and the `deployment` table) and in the result.

The rest of the portal finds the asker's deployment with `active_deployment(user=...)`
(or `active_deployment_url()`): the asker's newest running `llm-deploy` run whose
heartbeat is fresh and whose server said it is serving, else one staff marked shared
(`POST /api/runs/{id}/share`). Binding to 0.0.0.0 (the network) is staff-only. The Feishu/RAG answerer uses it
before falling back to KB_LLM_URL and the local SmolLM2.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from portal.labs.context import RunContext
from portal.labs.llm.checkpoints import BUILTIN_MODELS, SMOLLM2, check_model, resolve_model
from portal.labs.llm.results import DeployResult
from portal.labs.llm.servers import (
    LOOPBACK,
    ServerFailed,
    ServerKind,
    ServerProcess,
    transformers_server,
    vllm_server,
    vllm_unavailable_reason,
)
from portal.labs.registry import DeviceClass, Lab

DEPLOY_LAB_ID = "llm-deploy"
DEPLOYMENT_TABLE = "deployment"
SERVING, STOPPING = "serving", "stopping"
# Celery redelivers an unacknowledged task after the broker's visibility timeout
# (settings: 6 h); a deployment must end before that or its run would be marked lost.
MAX_HOURS = 5.0


class DeployParams(BaseModel):
    model: str = Field(
        title=_("Model"),
        default=SMOLLM2,
        description=_(
            "smollm2 (built in), tiny-random (for quick checks), a local directory or a hub id"
        ),
    )
    server: ServerKind = Field(
        title=_("Server"),
        default=ServerKind.TRANSFORMERS_CB,
        description=_(
            "transformers-cb (transformers serve --continuous-batching), transformers "
            "(transformers serve, one request at a time) or vllm (its own virtualenv)"
        ),
    )
    dtype: Literal["fp32", "bf16", "fp16"] = Field(
        title=_("Element type"),
        default="fp32",
        description=_("fp32 is the fast path of torch on most CPUs"),
    )
    hours: float = Field(
        title=_("Hours"),
        default=2.0,
        gt=0,
        le=MAX_HOURS,
        description=_("stop by itself after this many hours"),
    )
    host: Literal["127.0.0.1", "0.0.0.0"] = Field(
        title=_("Listen on"),
        default=LOOPBACK,
        description=_("127.0.0.1: this machine only; 0.0.0.0: the network (no authentication!)"),
    )
    port: int = Field(
        title=_("Port"), default=0, ge=0, le=65535, description=_("0 = any free port")
    )
    max_model_len: int = Field(
        title=_("Longest context"), default=2048, ge=128, le=32768, description=_("vLLM only")
    )
    ready_timeout_s: int = Field(title=_("Start-up timeout (s)"), default=300, ge=10, le=1800)
    check_interval_s: float = Field(
        title=_("Health check interval (s)"),
        default=15.0,
        ge=0.5,
        le=600,
        description=_("how often the server's health is checked"),
    )

    _model = field_validator("model")(classmethod(lambda cls, v: check_model(v)))

    @field_validator("host")
    @classmethod
    def _host(cls, v: str, info: ValidationInfo) -> str:
        # Checked at launch (Lab.validate(..., user=)): an unauthenticated server on the
        # network is a staff decision. The worker re-validating a stored run has no user.
        user = (info.context or {}).get("user")
        if v != LOOPBACK and user is not None and not user.is_staff:
            raise ValueError("only staff may bind a deployment to 0.0.0.0 (the network)")
        return v

    @field_validator("port")
    @classmethod
    def _port(cls, v: int) -> int:
        if 0 < v < 1024:
            raise ValueError("use port 0 (any free port) or a port from 1024 up")
        return v


def _advertised_host(bind_host: str) -> str:
    return LOOPBACK if bind_host == LOOPBACK else socket.gethostname()


def _start(params: DeployParams, model_dir: str, ctx: RunContext) -> ServerProcess:
    log_path = ctx.workdir / f"{params.server.value}-deploy.log"
    common: dict[str, Any] = {
        "log_path": log_path,
        "dtype": params.dtype,
        "device": ctx.device,
        "port": params.port or None,
        "host": params.host,
    }
    if params.server == ServerKind.VLLM:
        reason = vllm_unavailable_reason()
        if reason:
            raise ServerFailed(reason)
        name = params.model if params.model in BUILTIN_MODELS else model_dir
        server = vllm_server(
            model_dir, served_name=name, max_model_len=params.max_model_len, **common
        )
    else:
        # transformers serve answers only under the directory's name (in /v1/models too)
        server = transformers_server(
            model_dir,
            continuous_batching=params.server == ServerKind.TRANSFORMERS_CB,
            **common,
        )
    server.die_with_parent = True
    return server


def _probe(server: ServerProcess) -> float | None:
    """Milliseconds for GET /v1/models, or None if it did not answer."""
    start = time.perf_counter()
    try:
        ok = httpx.get(f"{server.base_url}/v1/models", timeout=5).status_code == 200
    except httpx.HTTPError:
        return None
    return (time.perf_counter() - start) * 1000 if ok else None


def run_deploy(params: DeployParams, ctx: RunContext) -> dict[str, Any]:
    ctx.progress(0.0, "preparing the model")
    model_dir = resolve_model(params.model)
    server = _start(params, model_dir, ctx)
    ctx.progress(0.0, f"starting {params.server}")
    started = time.monotonic()
    ended = "duration"
    row: dict[str, Any] = {}
    failed_checks = 0
    try:
        server.start()
        ready = server.wait_ready(params.ready_timeout_s, cancelled=ctx.cancelled)
        url = f"http://{_advertised_host(params.host)}:{server.port}/v1"
        since = timezone.now().isoformat()
        row = {
            "state": SERVING,
            "url": url,
            "model": server.served_name,
            "server": params.server.value,
            "pid": server.pid,
            "since": since,
        }
        ctx.table(DEPLOYMENT_TABLE, [row])
        ctx.log(
            f"{params.server} ready in {ready:.1f} s: OpenAI-compatible API at {url} "
            f"(model {server.served_name!r}), for up to {params.hours:g} h or until cancelled"
        )
        ctx.progress(0.0, f"serving at {url}")
        deadline = time.monotonic() + params.hours * 3600
        next_check = time.monotonic() + params.check_interval_s
        while True:
            if ctx.cancelled():
                ended = "cancelled"
                break
            now = time.monotonic()
            if now >= deadline:
                break
            if not server.alive():
                raise ServerFailed(
                    f"the server exited with {server.proc.returncode if server.proc else '?'}: "
                    f"{server.log_tail(1000)}"
                )
            if now >= next_check:
                next_check = now + params.check_interval_s
                latency = _probe(server)
                if latency is None:
                    failed_checks += 1
                    ctx.log(f"health check failed ({failed_checks} in a row)")
                    if failed_checks >= 3:
                        raise ServerFailed(f"the server stopped answering: {server.log_tail(1000)}")
                else:
                    failed_checks = 0
                    ctx.metric("health_ms", latency, step=round(now - started, 1))
                fraction = min(1.0, (now - started) / (params.hours * 3600))
                ctx.progress(fraction, f"serving at {url}")
            time.sleep(0.2)
    finally:
        if row:
            # tell active_deployment() first: the run ends only after the server is gone
            ctx.table(DEPLOYMENT_TABLE, [{**row, "state": STOPPING}])
        server.stop()
        ctx.log(f"{params.server} stopped")
    uptime = time.monotonic() - started
    return {
        "lab": DEPLOY_LAB_ID,
        "model": params.model,
        "server": params.server.value,
        "url": row.get("url"),
        "served_model": server.served_name,
        "since": row.get("since"),
        "uptime_s": round(uptime, 1),
        "ended": ended,
        "params": params.model_dump(mode="json"),
    }


DEPLOY_LAB = Lab(
    id=DEPLOY_LAB_ID,
    title=_("LLM deployment: keep an OpenAI-compatible server up"),
    description=_(
        "Start transformers serve or vLLM on the worker and keep it running until "
        "cancelled or its hours are over; its /v1 URL is shown on the run page and the "
        "Feishu/RAG answerer uses it while it runs."
    ),
    params=DeployParams,
    result=DeployResult,
    run=run_deploy,
    device=DeviceClass.ANY,
    week=12,
    time_limit_s=int(MAX_HOURS * 3600) + 15 * 60,
    idempotent=False,
    long_running=True,
    tags=("llm", "serving", "deploy", "demo-1"),
)


# --- finding the current deployment -----------------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    run_id: int
    base_url: str  # ends in /v1: what an OpenAI client takes as base_url
    model: str  # the served model name to put in requests
    server: str
    since: str


def _running_deployments(user: Any) -> list[Any]:
    """The user's own fresh running deployments, newest first, then those staff shared."""
    from django.db.models import Case, IntegerField, Q, Value, When

    from portal.labs.conf import setting_float
    from portal.labs.models import Run, RunStatus

    fresh: datetime = timezone.now() - timedelta(seconds=setting_float("LABS_LOST_AFTER_S"))
    mine = Q(owner_id=user.pk) if user is not None and user.is_authenticated else Q(pk__in=[])
    runs = Run.objects.filter(
        mine | Q(shared=True),
        lab_id=DEPLOY_LAB_ID,
        status=RunStatus.RUNNING,
        heartbeat_at__gte=fresh,
    ).annotate(
        theirs=Case(When(mine, then=Value(0)), default=Value(1), output_field=IntegerField())
    )
    return list(runs.order_by("theirs", "-started_at", "-pk")[:5])


def _deployment_of(run: Any) -> Deployment | None:
    from portal.labs.models import RunEvent

    tables = RunEvent.objects.filter(run=run, data__name=DEPLOYMENT_TABLE).latest_tables()
    rows = tables.get(run.pk, {}).get(DEPLOYMENT_TABLE) or []
    if not rows or rows[0].get("state") != SERVING or not rows[0].get("url"):
        return None
    row = rows[0]
    return Deployment(
        run_id=run.pk,
        base_url=str(row["url"]),
        model=str(row.get("model") or "default"),
        server=str(row.get("server") or ""),
        since=str(row.get("since") or ""),
    )


def _answers(deployment: Deployment, timeout_s: float) -> bool:
    try:
        return httpx.get(f"{deployment.base_url}/models", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def active_deployment(
    *, user: Any, check: bool = False, timeout_s: float = 2.0
) -> Deployment | None:
    """The server of `user`'s newest running `llm-deploy` run, else of one staff shared; or None.

    Another user's deployment is never used unless staff marked it shared: its owner
    chose the model, and the asker's private passages go into the prompt. `user=None`
    (an unlinked Feishu sender) only gets shared ones. Only runs whose heartbeat is
    fresher than LABS_LOST_AFTER_S count, and only once their server is ready (until it
    starts stopping). `check=True` also asks the server (GET /v1/models) and skips one
    that does not answer within `timeout_s`.
    """
    for run in _running_deployments(user):
        deployment = _deployment_of(run)
        if deployment is not None and (not check or _answers(deployment, timeout_s)):
            return deployment
    return None


def active_deployment_url(*, user: Any, check: bool = False) -> str | None:
    """The OpenAI base URL (`http://host:port/v1`) of `user`'s current deployment, or None."""
    deployment = active_deployment(user=user, check=check)
    return deployment.base_url if deployment else None
