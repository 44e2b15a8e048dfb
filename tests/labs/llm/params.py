"""Small parameters of the LLM labs shared by the tests (tiny random model, seconds to run)."""

from __future__ import annotations

SMALL_QUANT = {
    "model": "tiny-random",
    "variants": ["bnb-int8", "bnb-nf4", "gptq-int4"],
    "batch_sizes": [2, 1],
    "prompt_lengths": [16],
    "new_tokens": 3,
    "eval_tokens": 64,
    "generation_prompts": 1,
    "generation_tokens": 3,
}

SMALL_SERVING = {
    "model": "tiny-random",
    "servers": ["vllm", "transformers-cb", "transformers"],
    "dtypes": ["fp32"],
    "levels": [2, 1],
    "num_requests": 4,
    "max_tokens": 3,
    "prompt_lengths": ["short"],
}
