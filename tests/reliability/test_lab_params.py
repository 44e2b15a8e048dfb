"""Lab parameters are bounded data: no unbounded number, no free string that could become a path or a command."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from portal.labs.registry import Lab, all_labs

HOSTILE_STRINGS = [
    "../../../etc/passwd",
    "/etc/passwd",
    "~/.ssh/id_rsa",
    "x; rm -rf /",
    "$(id)",
    "__import__('os').system('id')",
    "a\x00b",
]


# Numbers bounded by a model validator instead of the schema, with the reason.
BOUNDED_ELSEWHERE = {
    (
        "llm-serving",
        "levels",
    ): "concurrency 1-256 by the validator; a rate may be inf (all at once)",
}


def _leaves(schema: dict[str, Any], defs: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind, schema) for every scalar a parameter can hold: in lists and optionals too."""
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        yield from _leaves(option, defs)
    kind = schema.get("type")
    if kind == "array":
        yield from _leaves(schema.get("items", {}), defs)
    elif kind in {"integer", "number", "string"}:
        yield kind, schema


def _fields(lab: Lab) -> Iterator[tuple[str, str, dict[str, Any], bool]]:
    schema = lab.parameter_schema()
    defs = schema.get("$defs", {})
    for name, field in schema.get("properties", {}).items():
        is_list = field.get("type") == "array" or any(
            o.get("type") == "array" for o in field.get("anyOf", [])
        )
        for kind, leaf in _leaves(field, defs):
            yield name, kind, leaf, is_list


def test_labs_are_registered():
    assert {lab.id for lab in all_labs()} >= {"system-benchmark", "kernels", "agent-sandbox"}


@pytest.mark.parametrize("lab", all_labs(), ids=lambda lab: lab.id)
def test_every_numeric_lab_parameter_has_an_upper_bound(lab: Lab):
    unbounded = [
        name
        for name, kind, leaf, _ in _fields(lab)
        if kind in {"integer", "number"}
        and (lab.id, name) not in BOUNDED_ELSEWHERE
        and "enum" not in leaf
        and "maximum" not in leaf
        and "exclusiveMaximum" not in leaf
    ]
    assert unbounded == [], f"{lab.id}: unbounded numeric parameters {unbounded}"


@pytest.mark.parametrize("lab", all_labs(), ids=lambda lab: lab.id)
def test_no_free_text_lab_parameter_accepts_a_path_or_a_command(lab: Lab):
    accepted = []
    for name, kind, leaf, is_list in _fields(lab):
        if kind != "string" or "enum" in leaf or "const" in leaf:
            continue
        for value in HOSTILE_STRINGS:
            try:
                lab.validate({name: [value] if is_list else value})
            except ValidationError:
                continue
            accepted.append((name, value))
    assert accepted == [], f"{lab.id} accepts {accepted}"


@pytest.mark.parametrize("lab", all_labs(), ids=lambda lab: lab.id)
def test_every_lab_refuses_unknown_or_wrongly_typed_parameters_with_field_errors(lab: Lab, api):
    fields = [name for name, *_ in _fields(lab)]
    body = {"params": {fields[0]: {"nested": "object"}}} if fields else {"params": {}}
    response = api.post(f"/api/labs/{lab.id}/runs", body, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("lab_id", "params"),
    [
        ("system-benchmark", {"copy_sizes_mib": [10**9]}),
        ("system-benchmark", {"matmul_sizes": [10**7]}),
        ("kernels", {"sizes": [1 << 40]}),
        ("agent-sandbox", {"seed": 2**80}),
        ("agent-sandbox", {"device": "../../etc/passwd"}),
    ],
)
def test_out_of_range_lab_parameters_are_refused_before_a_run_exists(api, lab_id, params):
    from portal.labs.models import Run

    response = api.post(
        f"/api/labs/{lab_id}/runs", {"params": params}, content_type="application/json"
    )

    assert response.status_code == 422
    assert next(iter(params)) in str(response.json()["detail"])
    assert not Run.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_artifact_names_with_path_tricks_stay_in_the_runs_directory(owner, settings, tmp_path):
    from portal.labs.models import Run
    from portal.labs.runner import WorkerRunContext

    settings.MEDIA_ROOT = str(tmp_path / "media")
    run = Run.objects.create(
        owner=owner,
        lab_id="system-benchmark",
        params={},
        queue="cpu",
        time_limit_s=60,
        soft_time_limit_s=50,
    )
    ctx = WorkerRunContext(run, device="cpu", workdir=tmp_path / "work")
    try:
        for name in ["../../escape.txt", "/etc/cron.d/evil", "..\\..\\win.txt", "sub/../../x.bin"]:
            ctx.artifact(name, b"payload")
        with pytest.raises(ValueError):
            ctx.artifact("..", b"payload")
    finally:
        ctx.close()

    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    run_dir = run.artifact_dir().relative_to(tmp_path)
    assert written and all(p.parent == run_dir for p in written), written
    names = set(run.artifacts.values_list("name", flat=True))
    assert names == {"escape.txt", "evil", "..\\..\\win.txt", "x.bin"}


@pytest.mark.parametrize("lab_id", ["llm-quant", "llm-serving"])
def test_llm_labs_load_local_models_only_from_the_configured_roots(lab_id, tmp_path, monkeypatch):
    from portal.labs.llm.checkpoints import ModelNotAvailable, resolve_model

    root = tmp_path / "models"
    (root / "mine").mkdir(parents=True)
    (root / "mine" / "config.json").write_text("{}")
    (root / "escape").symlink_to("/etc")
    monkeypatch.setenv("LLM_MODEL_ROOTS", str(root))
    lab = next(lab for lab in all_labs() if lab.id == lab_id)

    assert lab.validate({"model": str(root / "mine")}).model == str(root / "mine")
    monkeypatch.setenv("LLM_ALLOW_DOWNLOADS", "1")
    assert lab.validate({"model": "HuggingFaceTB/SmolLM2-135M-Instruct"})
    for outside in [
        str(root / "escape"),
        str(root / "mine" / ".." / ".."),
        "/etc",
        "~/x",
        "a/../b",
    ]:
        with pytest.raises(ValidationError):
            lab.validate({"model": outside})
    # and again where the worker resolves it, in case the roots differ there
    assert resolve_model(str(root / "mine")) == str((root / "mine").resolve())
    with pytest.raises(ModelNotAvailable):
        resolve_model("/etc")
    with pytest.raises(ModelNotAvailable):
        resolve_model(str(root / "escape"))


def _cached_hub_model(cache: Path, repo_id: str) -> Path:
    """A model as huggingface_hub lays it out in its cache after a download."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    return snapshot


@pytest.mark.parametrize("lab_id", ["llm-quant", "llm-serving", "llm-deploy"])
def test_hub_downloads_are_off_unless_allowed_and_a_cached_model_loads_from_disk(
    lab_id, tmp_path, monkeypatch
):
    from portal.labs.llm.checkpoints import ModelNotAvailable, resolve_model

    monkeypatch.delenv("LLM_ALLOW_DOWNLOADS", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    lab = next(lab for lab in all_labs() if lab.id == lab_id)

    with pytest.raises(ValidationError) as refused:
        lab.validate({"model": "someorg/not-here"})
    assert "LLM_ALLOW_DOWNLOADS=1" in str(refused.value)
    with pytest.raises(ModelNotAvailable):
        resolve_model("someorg/not-here")  # the worker never downloads either

    snapshot = _cached_hub_model(tmp_path, "someorg/cached")
    assert lab.validate({"model": "someorg/cached"}).model == "someorg/cached"
    assert resolve_model("someorg/cached") == str(snapshot)

    monkeypatch.setenv("LLM_ALLOW_DOWNLOADS", "1")
    assert lab.validate({"model": "someorg/not-here"}).model == "someorg/not-here"
    assert resolve_model("someorg/not-here") == "someorg/not-here"


@pytest.mark.django_db
def test_launching_with_an_uncached_hub_model_is_a_422_that_says_why(api, monkeypatch, tmp_path):
    monkeypatch.delenv("LLM_ALLOW_DOWNLOADS", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    response = api.post(
        "/api/labs/llm-deploy/runs",
        {"params": {"model": "someorg/not-here"}},
        content_type="application/json",
    )
    assert response.status_code == 422, response.content
    (error,) = response.json()["detail"]
    assert error["loc"][-1] == "model" and "downloads from the Hub are off" in error["msg"]
