"""Words about the suite that pages show: safeguards, kernels, implementations.

Kept free of torch so that web processes can render the lab page without
importing it.
"""

from __future__ import annotations

# Per-dtype tolerances: |out - ref| <= ATOL * rms(ref) + RTOL * |ref| (the harness keys them
# by torch dtype; the graded problems' catalog shows them without importing torch).
TOLERANCES_BY_NAME: dict[str, tuple[float, float]] = {
    "float64": (1e-10, 1e-9),
    "float32": (1e-5, 1e-4),
    "float16": (2e-3, 1e-2),
    "bfloat16": (1e-2, 2e-2),
}
LN_EPS = 1e-5  # layer norm's epsilon, in the suite and in the graded problem


def gettext_noop(message: str) -> str:
    """Marks a string for translation (makemessages finds it); pages translate it when shown."""
    return message


# (key, title, explanation) — shown on the lab page, in this order.
SAFEGUARDS: list[tuple[str, str, str]] = [
    (
        "fresh_inputs",
        gettext_noop("Fresh random inputs for every check"),
        gettext_noop(
            "Each correctness check draws new normally distributed inputs from a new seed, never "
            "zeros or ones. A kernel that returns a constant, or whatever it computed last time, "
            "cannot match a reference it has never seen."
        ),
    ),
    (
        "reference_precision",
        gettext_noop("Reference in higher precision"),
        gettext_noop(
            "The reference runs in float64 on the same inputs, so the comparison measures the "
            "kernel's error, not the sum of two low-precision errors."
        ),
    ),
    (
        "tolerances",
        gettext_noop("Tolerances by dtype"),
        gettext_noop(
            "An output passes if |out - ref| <= atol * rms(ref) + rtol * |ref| everywhere, with "
            "atol and rtol set per dtype (float32 tight, float16 looser, bfloat16 loosest, because "
            "it keeps only 8 bits of mantissa)."
        ),
    ),
    (
        "finite",
        gettext_noop("NaN and Inf check"),
        gettext_noop(
            "Any NaN or Inf in the output fails the check even where the reference is finite; "
            "comparisons with NaN are otherwise silently false in some tools."
        ),
    ),
    (
        "poisoned_output",
        gettext_noop("Poisoned output memory"),
        gettext_noop(
            "Before each call the harness allocates a block the size of the output, fills it with "
            "0xFF bytes (NaN in every float format) and frees it, so the allocator hands that "
            "poisoned memory to the kernel's output. Elements the kernel forgets to write stay NaN "
            "and fail. (On the CPU large blocks come back from the OS zeroed instead; a zero is "
            "still wrong because the reference is never zero.)"
        ),
    ),
    (
        "inputs_unmodified",
        gettext_noop("Inputs left untouched"),
        gettext_noop(
            "Inputs are copied before the call and compared bit for bit afterwards; the output may "
            "not alias an input. A kernel that works in place, or scribbles on its inputs, fails."
        ),
    ),
    (
        "anti_caching",
        gettext_noop("No cached outputs"),
        gettext_noop(
            "Several checks run with different inputs, and after timing the inputs are refilled "
            "with new random values at the same addresses and checked again. A kernel that "
            "remembers outputs by shape or by pointer returns stale answers and fails."
        ),
    ),
    (
        "warmup",
        gettext_noop("Warm-up"),
        gettext_noop(
            "Calls before timing absorb compilation, autotuning and allocator growth, which "
            "would otherwise land in the first timed repetitions."
        ),
    ),
    (
        "cache_flush",
        gettext_noop("Cache flush between repetitions"),
        gettext_noop(
            "Before every timed call the harness writes a buffer larger than the last-level "
            "cache (256 MiB on a GPU, 4x the L3 on a CPU), so each repetition reads its inputs "
            "from memory, as a kernel in a real model would, instead of from a warm cache."
        ),
    ),
    (
        "device_timers",
        gettext_noop("Device timers"),
        gettext_noop(
            "On a GPU each repetition is timed with CUDA events recorded on the stream around the "
            "kernel, read after a synchronize, so launch latency and the Python loop are not "
            "counted and asynchronous work is. On the CPU, perf_counter around a synchronous call."
        ),
    ),
    (
        "wall_clock_cross_check",
        gettext_noop("Wall-clock cross-check"),
        gettext_noop(
            "A batch of back-to-back calls is also timed by the wall clock with a synchronize; if "
            "the events say much less than the wall clock, work escaped the timed stream and the "
            "point is flagged."
        ),
    ),
    (
        "median_spread",
        gettext_noop("Median and spread of many repetitions"),
        gettext_noop(
            "The reported time is the median of many repetitions, with the 20th-80th percentile "
            "spread beside it; a single or a best-of time hides noise and flatters."
        ),
    ),
    (
        "timed_output_checked",
        gettext_noop("Timed outputs checked too"),
        gettext_noop(
            "The output of the last timed repetition is checked against the reference, so a "
            "kernel cannot behave during the checks and skip work while it is being timed."
        ),
    ),
    (
        "same_run_baselines",
        gettext_noop("Baselines in the same run"),
        gettext_noop(
            "PyTorch eager and torch.compile are checked and timed in the same run, on the same "
            "device, sizes and harness, so speed-ups are ratios of like with like."
        ),
    ),
]


# (name, title, summary, bytes moved, flops) for each kernel, in suite order.
KERNEL_INFO: list[tuple[str, str, str, str, str]] = [
    (
        "vector_add",
        gettext_noop("Vector add"),
        gettext_noop("out = a + b over n*n elements: pure bandwidth, 1 flop per 12 bytes in fp32."),
        "3 n^2 s",
        "n^2",
    ),
    (
        "softmax",
        gettext_noop("Fused softmax"),
        gettext_noop(
            "Row-wise softmax of an n x n matrix in one pass over memory (read once, write once) "
            "instead of the 3-5 passes of an unfused version."
        ),
        "2 n^2 s",
        "5 n^2",
    ),
    (
        "layer_norm",
        gettext_noop("Layer norm"),
        gettext_noop(
            "LayerNorm forward over the last dim of an n x n matrix with weight and bias: two "
            "reductions (mean, variance) and an affine map, fused."
        ),
        "(2 n^2 + 2n) s",
        "8 n^2",
    ),
    (
        "matmul",
        gettext_noop("Tiled matmul"),
        gettext_noop(
            "C = A B for n x n x n, tiled so each tile of A and B is loaded into fast memory once per "
            "block of C, with grouped launch order for L2 reuse: compute-bound."
        ),
        "3 n^2 s",
        "2 n^3",
    ),
    (
        "attention",
        gettext_noop("Fused attention (forward)"),
        gettext_noop(
            "softmax(QK^T/sqrt(d))V with an online softmax over K/V blocks (Milakov & Gimelshein "
            "2018, FlashAttention 2022): the n x n score matrix never reaches memory."
        ),
        "4 B H n d s",
        "4 B H n^2 d (half if causal)",
    ),
]

# (name, title, where it runs)
IMPL_INFO: list[tuple[str, str, str]] = [
    (
        "eager",
        gettext_noop("PyTorch eager"),
        gettext_noop("The baseline: PyTorch's own operator (cuBLAS, SDPA, ATen)."),
    ),
    (
        "compiled",
        gettext_noop("torch.compile"),
        gettext_noop("The same PyTorch code compiled by Inductor (fullgraph)."),
    ),
    (
        "triton",
        gettext_noop("Triton"),
        gettext_noop("Our Triton kernels: timed on GPUs, checked via the interpreter on CPUs."),
    ),
    (
        "cpp",
        gettext_noop("C++/CUDA custom op"),
        gettext_noop(
            "torch.ops.portal_kernels.*: C++ on CPU, CUDA on GPU, registered with torch.library "
            "with fake implementations so torch.compile can trace it."
        ),
    ),
    (
        "torch_online",
        gettext_noop("Plain-PyTorch tiled"),
        gettext_noop(
            "The tiling / online-softmax algorithm written in plain PyTorch, for reading."
        ),
    ),
]
