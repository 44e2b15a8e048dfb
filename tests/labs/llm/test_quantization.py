"""Real quantization of a tiny random-weight Llama: memory and quality bounds, in process."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from portal.labs.llm.datasets import eval_text
from portal.labs.llm.quantization import (
    Variant,
    VariantSpec,
    evaluate_quality,
    linear_weight_bytes,
    load_variant,
    model_weight_bytes,
    tensor_nbytes,
    time_generation,
    unavailable_reason,
)


@pytest.fixture(scope="module")
def measured(tiny_model_dir: Path, tmp_path_factory) -> dict[str, dict]:
    """bf16 baseline first (it writes the log-probs), then each quantized variant."""
    logprobs = tmp_path_factory.mktemp("quant") / "base.pt"
    out = {}
    for variant in ["bf16", "bnb-int8", "bnb-nf4", "torchao-int8wo", "torchao-int8da"]:
        spec = VariantSpec(
            model=str(tiny_model_dir),
            variant=variant,
            baseline="bf16",
            eval_tokens=128,
            eval_window=64,
            baseline_logprobs=str(logprobs),
        )
        model, tokenizer = load_variant(spec)
        out[variant] = {
            "linear": linear_weight_bytes(model),
            "total": model_weight_bytes(model),
            **evaluate_quality(model, tokenizer, spec, eval_text()),
            "model": model,
            "tokenizer": tokenizer,
        }
    return out


def test_int8_variants_hold_at_most_055_of_the_bf16_linear_weights(measured):
    base = measured["bf16"]["linear"]
    # 4 layers x (q 256x256, k/v 256x128, o 256x256, gate/up/down 256x512) in bf16
    assert base == 4 * 2 * (256 * 256 * 2 + 256 * 128 * 2 + 3 * 256 * 512)
    for variant in ["bnb-int8", "torchao-int8wo", "torchao-int8da"]:
        ratio = measured[variant]["linear"] / base
        assert 0.5 <= ratio <= 0.55, (variant, ratio)  # int8 weights + per-row scales


def test_nf4_holds_at_most_035_of_the_bf16_linear_weights(measured):
    ratio = measured["bnb-nf4"]["linear"] / measured["bf16"]["linear"]
    assert 0.25 <= ratio <= 0.35


def test_the_tied_embedding_is_counted_once_and_left_unquantized(measured):
    embedding = measured["bf16"]["model"].get_input_embeddings().weight
    emb_bytes = embedding.numel() * embedding.element_size()
    for variant in ["bf16", "bnb-int8", "bnb-nf4"]:
        extra = measured[variant]["total"] - measured[variant]["linear"]
        # embedding (= lm_head) + RMSNorm weights + rotary buffers, once
        assert emb_bytes <= extra < emb_bytes + 64 * 1024, variant


def test_int8_stays_close_to_the_baseline_and_nf4_drifts_further(measured):
    assert measured["bf16"]["kl"] == 0.0
    for variant in ["bnb-int8", "torchao-int8wo", "torchao-int8da"]:
        assert measured[variant]["kl"] < 0.02, variant
        assert measured[variant]["top1_agreement"] > 0.8, variant
    nf4 = measured["bnb-nf4"]
    assert nf4["kl"] > max(measured[v]["kl"] for v in ["bnb-int8", "torchao-int8wo"])
    assert nf4["kl"] < 1.0
    for m in measured.values():
        assert math.isfinite(m["perplexity"]) and m["perplexity"] > 1
        assert m["eval_tokens"] == 128


def test_torchao_weights_are_counted_by_their_inner_int8_data_and_scales(measured):
    model = measured["torchao-int8wo"]["model"]
    q_proj = model.model.layers[0].self_attn.q_proj
    assert type(q_proj.weight) is not torch.nn.Parameter or hasattr(
        q_proj.weight, "__tensor_flatten__"
    )
    nbytes = tensor_nbytes(q_proj.weight)
    assert 256 * 256 <= nbytes <= 256 * 256 + 256 * 8  # int8 values + one scale per row


def test_timing_a_batched_generation_reports_ttft_tpot_and_throughput(measured):
    m = measured["bnb-int8"]
    point = time_generation(
        m["model"], m["tokenizer"], batch=2, prompt_len=16, new_tokens=4, device="cpu"
    )
    assert point["ttft_ms"] > 0 and point["tpot_ms"] > 0
    assert point["decode_tokens_per_s"] == pytest.approx(2 / (point["tpot_ms"] / 1000))
    assert point["tokens_per_s"] > 0


def test_gpu_only_methods_say_why_they_cannot_run_on_cpu():
    assert unavailable_reason(Variant.GPTQ_INT4, "cpu") == "GPTQ needs a CUDA worker"
    assert unavailable_reason(Variant.AWQ_INT4, "cpu") == "AWQ needs a CUDA worker"
    assert unavailable_reason(Variant.BNB_NF4, "cpu") is None
