"""The crossover analysis and the Markdown report."""

from __future__ import annotations

import pytest

from portal.labs.llm.report import find_crossover, quant_crossovers, quant_markdown


def test_a_ratio_falling_below_one_crosses_between_the_bracketing_batches():
    cross = find_crossover([(1, 1.5), (4, 1.2), (16, 0.8)])
    assert cross is not None
    assert cross["between"] == [4, 16]
    assert cross["faster"] == "below"
    # halfway from 1.2 to 0.8 in log2 space between 4 (2) and 16 (4) → 2**3 = 8
    assert cross["batch"] == pytest.approx(8.0)


def test_a_ratio_rising_above_one_is_faster_above_the_crossover():
    cross = find_crossover([(1, 0.5), (2, 1.5)])
    assert cross == {"between": [1, 2], "batch": pytest.approx(2**0.5, abs=0.01), "faster": "above"}


def test_no_crossover_when_the_ratio_stays_on_one_side():
    assert find_crossover([(1, 2.0), (8, 1.1)]) is None
    assert find_crossover([(1, 0.9)]) is None


def _variant(name: str, tps: dict[int, float]) -> dict:
    return {
        "variant": name,
        "label": name,
        "bits": 4,
        "load_s": 1.0,
        "linear_weight_mib": 1.0,
        "model_weight_mib": 2.0,
        "peak_mib": 3.0,
        "perplexity": 10.0,
        "kl": 0.1,
        "top1_agreement": 0.9,
        "latency": [
            {
                "batch": b,
                "prompt_len": 64,
                "ttft_ms": 1.0,
                "tpot_ms": 1.0,
                "tokens_per_s": v,
                "decode_tokens_per_s": v,
            }
            for b, v in tps.items()
        ],
    }


def test_crossovers_compare_each_variant_with_the_baseline_per_prompt_length():
    variants = [
        _variant("bf16", {1: 10, 4: 40, 16: 160}),
        _variant("bnb-nf4", {1: 20, 4: 48, 16: 80}),
    ]
    [c] = quant_crossovers(variants, "bf16")
    assert [r["ratio"] for r in c["ratios"]] == [2.0, 1.2, 0.5]
    assert c["crossover"]["between"] == [4, 16]
    assert "crosses the baseline near batch" in c["verdict"]

    text = quant_markdown(
        {
            "model": "m",
            "device": "cpu",
            "baseline": "bf16",
            "variants": variants,
            "crossovers": [c],
            "skipped": [{"variant": "gptq-int4", "reason": "GPTQ needs a CUDA worker"}],
            "generations": [{"prompt": "Hi?", "answers": {"bf16": "Hello", "bnb-nf4": "Hey"}}],
        }
    )
    assert "| bnb-nf4 | 64 | 16 |" in text
    assert "skipped **gptq-int4**: GPTQ needs a CUDA worker" in text
    assert "- *bnb-nf4*: Hey" in text
