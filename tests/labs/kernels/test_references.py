"""The float64 references and the plain-PyTorch algorithms agree with PyTorch's own operators."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from portal.labs.kernels.engine.suite import (
    KERNELS,
    AttentionShape,
    Problem,
    attention_reference,
    layer_norm_reference,
    online_attention,
    softmax_reference,
    tiled_matmul,
)

CPU = torch.device("cpu")


def test_softmax_and_layer_norm_references_match_pytorch():
    x = torch.randn(17, 33, dtype=torch.float64) * 4
    assert torch.allclose(softmax_reference(x), torch.softmax(x, -1))
    w, b = torch.randn(33, dtype=torch.float64), torch.randn(33, dtype=torch.float64)
    assert torch.allclose(layer_norm_reference(x, w, b), F.layer_norm(x, (33,), w, b, 1e-5))


@pytest.mark.parametrize("causal", [False, True])
def test_attention_reference_matches_sdpa(causal):
    q, k, v = (torch.randn(2, 3, 37, 16, dtype=torch.float64) for _ in range(3))
    want = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    assert torch.allclose(attention_reference(q, k, v, causal=causal), want)


@pytest.mark.parametrize("causal", [False, True])
def test_online_softmax_attention_in_plain_pytorch_matches_the_reference(causal):
    q, k, v = (torch.randn(1, 2, 100, 32) for _ in range(3))
    got = online_attention(q, k, v, causal=causal, block=16)
    want = attention_reference(*(t.double() for t in (q, k, v)), causal=causal)
    assert torch.allclose(got.double(), want, atol=1e-5)


def test_tiled_matmul_matches_on_ragged_tiles():
    a, b = torch.randn(70, 45), torch.randn(45, 33)
    assert torch.allclose(tiled_matmul(a, b, block=16), a @ b, atol=1e-4)


def test_cost_model_counts_compulsory_bytes_and_flops():
    p = Problem("matmul", 64, torch.bfloat16, CPU)
    assert p.bytes == 3 * 64 * 64 * 2 and p.flops == 2 * 64**3
    a = Problem("attention", 128, torch.float16, CPU, AttentionShape(2, 4, 64, causal=True))
    assert a.flops == 4 * 2 * 4 * 128 * 128 * 64 // 2
    assert set(KERNELS) == {"vector_add", "softmax", "layer_norm", "matmul", "attention"}
