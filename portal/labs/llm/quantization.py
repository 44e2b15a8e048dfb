"""Quantization variants of a causal LM and what is measured on each.

The lab runs every variant in a fresh worker process (`python -m
portal.labs.llm.quantization`, spec as JSON on stdin, events as JSON lines on
stdout) so that peak RSS / peak CUDA memory belong to that variant alone. The
baseline writes its log-probabilities on the evaluation text to a file; the
variants read it back for KL divergence and top-1 agreement.
"""

from __future__ import annotations

import json
import os
import queue
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
Emit = Callable[[dict[str, Any]], None]


class Variant(StrEnum):
    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"
    BNB_INT8 = "bnb-int8"
    BNB_NF4 = "bnb-nf4"
    TORCHAO_INT8_WO = "torchao-int8wo"
    TORCHAO_INT8_DA = "torchao-int8da"
    GPTQ_INT4 = "gptq-int4"
    AWQ_INT4 = "awq-int4"

    @property
    def is_float(self) -> bool:
        return self in (Variant.FP32, Variant.BF16, Variant.FP16)

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def bits(self) -> int:
        return _BITS[self]


_LABELS = {
    Variant.FP32: "fp32",
    Variant.BF16: "bf16",
    Variant.FP16: "fp16",
    Variant.BNB_INT8: "bitsandbytes LLM.int8",
    Variant.BNB_NF4: "bitsandbytes NF4",
    Variant.TORCHAO_INT8_WO: "torchao int8 weight-only",
    Variant.TORCHAO_INT8_DA: "torchao int8 dynamic-activation",
    Variant.GPTQ_INT4: "GPTQ 4-bit",
    Variant.AWQ_INT4: "AWQ 4-bit",
}
_BITS = {
    Variant.FP32: 32,
    Variant.BF16: 16,
    Variant.FP16: 16,
    Variant.BNB_INT8: 8,
    Variant.BNB_NF4: 4,
    Variant.TORCHAO_INT8_WO: 8,
    Variant.TORCHAO_INT8_DA: 8,
    Variant.GPTQ_INT4: 4,
    Variant.AWQ_INT4: 4,
}


def unavailable_reason(variant: Variant, device: str) -> str | None:
    """Why `variant` cannot run on `device` here, or None when it can."""
    import importlib.util

    cuda = device.startswith("cuda")
    if variant == Variant.FP16 and not cuda:
        return None  # slow on CPU but correct
    if variant in (Variant.BNB_INT8, Variant.BNB_NF4):
        return None if importlib.util.find_spec("bitsandbytes") else "bitsandbytes is not installed"
    if variant in (Variant.TORCHAO_INT8_WO, Variant.TORCHAO_INT8_DA):
        return None if importlib.util.find_spec("torchao") else "torchao is not installed"
    if variant == Variant.GPTQ_INT4:
        if not cuda:
            return "GPTQ needs a CUDA worker"
        if not importlib.util.find_spec("gptqmodel"):
            return "gptqmodel is not installed (pip install '.[gpu]')"
    if variant == Variant.AWQ_INT4:
        if not cuda:
            return "AWQ needs a CUDA worker"
        if not importlib.util.find_spec("awq"):
            return "autoawq is not installed (pip install '.[gpu]')"
    return None


@dataclass
class VariantSpec:
    """Everything a worker process needs; JSON on its stdin."""

    model: str  # a directory or hub id (already resolved)
    variant: str
    baseline: str  # the float variant the others are compared with
    device: str = "cpu"
    eval_tokens: int = 256
    eval_window: int = 128
    batch_sizes: list[int] = field(default_factory=lambda: [1, 4])
    prompt_lengths: list[int] = field(default_factory=lambda: [64])
    new_tokens: int = 8
    repeats: int = 1
    generation_prompts: list[str] = field(default_factory=list)
    generation_tokens: int = 24
    baseline_logprobs: str = ""  # file the baseline writes and the others read
    threads: int = 0  # torch threads; 0 = torch's default
    calibration_texts: list[str] = field(default_factory=list)


# --- measuring (inside the worker process) ------------------------------------------------------


def _dtype(name: str) -> Any:
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


def load_variant(spec: VariantSpec) -> tuple[Any, Any]:
    """Load the model as `spec.variant` on `spec.device`; returns (model, tokenizer)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    variant = Variant(spec.variant)
    tokenizer = AutoTokenizer.from_pretrained(spec.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # Quantized variants compute in the baseline's dtype: only the weights change.
    dtype = _dtype(spec.variant if variant.is_float else spec.baseline)
    kwargs: dict[str, Any] = {"dtype": dtype, "device_map": spec.device}
    if variant in (Variant.BNB_INT8, Variant.BNB_NF4):
        from transformers import BitsAndBytesConfig

        if variant == Variant.BNB_INT8:
            kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
        else:
            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
            )
    elif variant == Variant.GPTQ_INT4:
        from transformers import GPTQConfig

        kwargs["quantization_config"] = GPTQConfig(
            bits=4, group_size=128, dataset=spec.calibration_texts, tokenizer=tokenizer
        )
    if variant == Variant.AWQ_INT4:
        return _load_awq(spec, tokenizer, dtype), tokenizer
    model = AutoModelForCausalLM.from_pretrained(spec.model, **kwargs)
    if variant in (Variant.TORCHAO_INT8_WO, Variant.TORCHAO_INT8_DA):
        from torchao.quantization import (
            Int8DynamicActivationInt8WeightConfig,
            Int8WeightOnlyConfig,
            quantize_,
        )

        config = (
            Int8WeightOnlyConfig()
            if variant == Variant.TORCHAO_INT8_WO
            else Int8DynamicActivationInt8WeightConfig()
        )
        # lm_head is tied to the embedding in small models: leave both in full precision.
        quantize_(model, config, filter_fn=_decoder_linear_filter(model))
    model.eval()
    if spec.device.startswith("cuda"):
        torch.cuda.synchronize()
    return model, tokenizer


def _load_awq(spec: VariantSpec, tokenizer: Any, dtype: Any) -> Any:  # pragma: no cover - GPU only
    import tempfile

    from awq import AutoAWQForCausalLM
    from transformers import AutoModelForCausalLM

    awq = AutoAWQForCausalLM.from_pretrained(spec.model, dtype=dtype)
    awq.quantize(
        tokenizer,
        quant_config={"zero_point": True, "q_group_size": 128, "w_bit": 4, "version": "GEMM"},
        calib_data=spec.calibration_texts,
    )
    out = tempfile.mkdtemp(prefix="awq-")
    awq.save_quantized(out)
    tokenizer.save_pretrained(out)
    return AutoModelForCausalLM.from_pretrained(out, device_map=spec.device).eval()


def _decoder_linear_filter(model: Any) -> Callable[[Any, str], bool]:
    import torch

    head = model.get_output_embeddings()

    def keep(module: Any, fqn: str) -> bool:
        return isinstance(module, torch.nn.Linear) and module is not head

    return keep


def tensor_nbytes(t: Any) -> int:
    """Bytes really held by a tensor, including tensor subclasses' inner tensors (torchao)."""
    import torch

    if hasattr(t, "__tensor_flatten__") and type(t) not in (torch.Tensor, torch.nn.Parameter):
        names, _ = t.__tensor_flatten__()
        return sum(tensor_nbytes(getattr(t, n)) for n in names)
    total = t.numel() * t.element_size()
    state = getattr(t, "quant_state", None)  # bitsandbytes Params4bit: absmax, code, ...
    if state is not None:
        total += sum(
            tensor_nbytes(v) for v in state.as_dict(packed=True).values() if torch.is_tensor(v)
        )
    return total


def linear_weight_bytes(model: Any) -> int:
    """Bytes of the decoder's Linear layers (weights, scales, biases), lm_head excluded.

    bitsandbytes and torchao keep their layers `nn.Linear` subclasses; what each stores
    (int8 + per-row scales, packed 4-bit + absmax, ...) is counted from the module's
    own state dict, so the figure is what the layer really holds.
    """
    import torch

    head = model.get_output_embeddings()
    total = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and module is not head:
            seen: set[int] = set()
            for value in module.state_dict(keep_vars=True).values():
                if torch.is_tensor(value) and id(value) not in seen:
                    seen.add(id(value))
                    total += tensor_nbytes(value)
            if hasattr(module, "weight") and hasattr(module.weight, "quant_state"):
                # Params4bit: state_dict already flattened the quant state into extra keys.
                total -= sum(
                    tensor_nbytes(v)
                    for v in module.weight.quant_state.as_dict(packed=True).values()
                    if torch.is_tensor(v)
                )
    return total


def model_weight_bytes(model: Any) -> int:
    """All weights: the decoder Linear layers as counted above plus everything else once.

    Tied tensors (embedding = lm_head) count once.
    """
    import torch

    head = model.get_output_embeddings()
    seen: set[int] = set()
    total = linear_weight_bytes(model)
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and module is not head:
            continue
        tensors = list(module.parameters(recurse=False)) + list(module.buffers(recurse=False))
        for tensor in tensors:
            if id(tensor) not in seen:
                seen.add(id(tensor))
                total += tensor_nbytes(tensor)
    return total


def peak_memory_bytes(device: str) -> int:
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.max_memory_allocated())
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def evaluate_quality(model: Any, tokenizer: Any, spec: VariantSpec, text: str) -> dict[str, float]:
    """Perplexity on `text`; KL(baseline || this) and top-1 agreement once the baseline exists.

    The text is cut to `eval_tokens` tokens and scored in non-overlapping windows of
    `eval_window` tokens (each window's first token has no context and is not scored).
    """
    import torch
    import torch.nn.functional as F

    ids = tokenizer(text, return_tensors="pt").input_ids[0][: spec.eval_tokens + 1]
    nll_sum, count = 0.0, 0
    logprobs: list[torch.Tensor] = []
    with torch.inference_mode():
        for start in range(0, len(ids) - 1, spec.eval_window):
            window = ids[start : start + spec.eval_window + 1].unsqueeze(0).to(spec.device)
            if window.shape[1] < 2:
                break
            logits = model(window[:, :-1]).logits.float()
            lp = F.log_softmax(logits, dim=-1)[0]
            targets = window[0, 1:]
            nll_sum += float(-lp.gather(1, targets.unsqueeze(1)).sum())
            count += targets.numel()
            logprobs.append(lp.cpu())
    allp = torch.cat(logprobs)
    out: dict[str, float] = {"perplexity": float(torch.exp(torch.tensor(nll_sum / count)))}
    out["eval_tokens"] = count
    path = Path(spec.baseline_logprobs) if spec.baseline_logprobs else None
    if spec.variant == spec.baseline:
        if path is not None:
            torch.save(allp.to(torch.float32), path)
        out["kl"] = 0.0
        out["top1_agreement"] = 1.0
    elif path is not None and path.exists():
        base = torch.load(path)
        n = min(len(base), len(allp))
        base, allp = base[:n], allp[:n]
        kl = (base.exp() * (base - allp)).sum(-1)
        out["kl"] = float(kl.mean())
        out["top1_agreement"] = float((base.argmax(-1) == allp.argmax(-1)).float().mean())
    return out


class _Clock:
    """A generate() streamer that only timestamps: the first put() is the prompt."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda
        self.stamps: list[float] = []

    def put(self, value: Any) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        self.stamps.append(time.perf_counter())

    def end(self) -> None:
        pass


def time_generation(
    model: Any, tokenizer: Any, *, batch: int, prompt_len: int, new_tokens: int, device: str
) -> dict[str, float]:
    """One batched greedy generation of exactly `new_tokens`: TTFT, TPOT and throughput."""
    import torch

    base = tokenizer(_filler_text(), return_tensors="pt").input_ids[0]
    while len(base) < prompt_len + batch:
        base = torch.cat([base, base])
    rows = [base[i : i + prompt_len] for i in range(batch)]  # distinct rows, same length
    input_ids = torch.stack(rows).to(device)
    clock = _Clock(device.startswith("cuda"))
    start = time.perf_counter()
    with torch.inference_mode():
        model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            streamer=clock,
        )
    stamps = clock.stamps
    ttft = stamps[1] - start
    decode_steps = len(stamps) - 2
    tpot = (stamps[-1] - stamps[1]) / decode_steps if decode_steps > 0 else float("nan")
    total = stamps[-1] - start
    return {
        "ttft_ms": ttft * 1000,
        "tpot_ms": tpot * 1000,
        "tokens_per_s": batch * new_tokens / total,
        "decode_tokens_per_s": batch / tpot if decode_steps > 0 else float("nan"),
    }


def _filler_text() -> str:
    from portal.labs.llm.datasets import eval_text

    return eval_text()


def generate_answers(
    model: Any, tokenizer: Any, prompts: list[str], *, new_tokens: int, device: str
) -> list[str]:
    import torch

    answers = []
    for prompt in prompts:
        if tokenizer.chat_template:
            text = tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
        else:
            text = prompt
        enc = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(device)
        with torch.inference_mode():
            out = model.generate(
                **enc,
                max_new_tokens=new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        answers.append(
            tokenizer.decode(out[0, enc.input_ids.shape[1] :], skip_special_tokens=True).strip()
        )
    return answers


def measure_variant(spec: VariantSpec, emit: Emit) -> dict[str, Any]:
    """Load, measure and report one variant; emits events as each measurement lands."""
    import torch

    from portal.labs.llm.datasets import eval_text

    if spec.threads:
        torch.set_num_threads(spec.threads)
    variant = Variant(spec.variant)
    if spec.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    emit({"kind": "log", "text": f"{variant}: loading {spec.model} on {spec.device}"})
    t0 = time.perf_counter()
    model, tokenizer = load_variant(spec)
    load_s = time.perf_counter() - t0
    result: dict[str, Any] = {
        "variant": variant.value,
        "label": variant.label,
        "bits": variant.bits,
        "load_s": load_s,
        "linear_weight_mib": linear_weight_bytes(model) / MIB,
        "model_weight_mib": model_weight_bytes(model) / MIB,
        "peak_after_load_mib": peak_memory_bytes(spec.device) / MIB,
    }
    emit({"kind": "measure", "stage": "load", "data": dict(result)})

    quality = evaluate_quality(model, tokenizer, spec, eval_text())
    result.update(quality)
    emit({"kind": "measure", "stage": "quality", "data": quality})

    latency = []
    for prompt_len in spec.prompt_lengths:
        for batch in spec.batch_sizes:
            # Untimed first: kernels are picked (oneDNN, cuBLAS) per shape on first use.
            time_generation(
                model,
                tokenizer,
                batch=batch,
                prompt_len=prompt_len,
                new_tokens=2,
                device=spec.device,
            )
            runs = [
                time_generation(
                    model,
                    tokenizer,
                    batch=batch,
                    prompt_len=prompt_len,
                    new_tokens=spec.new_tokens,
                    device=spec.device,
                )
                for _ in range(max(1, spec.repeats))
            ]
            point = {"batch": batch, "prompt_len": prompt_len, **_median_of(runs)}
            latency.append(point)
            emit({"kind": "measure", "stage": "latency", "data": point})
    result["latency"] = latency

    if spec.generation_prompts:
        result["generations"] = generate_answers(
            model,
            tokenizer,
            spec.generation_prompts,
            new_tokens=spec.generation_tokens,
            device=spec.device,
        )
    result["peak_mib"] = peak_memory_bytes(spec.device) / MIB
    result["peak_kind"] = "cuda_max_allocated" if spec.device.startswith("cuda") else "rss"
    return result


def _median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    import statistics

    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


# --- running a variant in a fresh process (parent side) --------------------------------------


class VariantFailed(RuntimeError):
    pass


def run_variant_process(
    spec: VariantSpec,
    *,
    on_event: Emit,
    cancelled: Callable[[], bool] = lambda: False,
    timeout_s: float = 900,
    stderr_path: Path | None = None,
) -> dict[str, Any]:
    """Run `measure_variant` in a fresh Python process; relay its events; return its result.

    Raises VariantFailed with the tail of the worker's stderr if it dies, and kills it
    (returning from a RunCancelled raised by the caller) when `cancelled()` turns true.
    """
    from portal.labs.context import RunCancelled

    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    root = Path(__file__).resolve().parents[3]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    err = open(stderr_path, "w+b") if stderr_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "portal.labs.llm.quantization"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=err,
        env=env,
        cwd=root,
        text=True,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write(json.dumps(asdict(spec)))
    proc.stdin.close()
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout_s
    result: dict[str, Any] | None = None
    try:
        while True:
            if cancelled():
                raise RunCancelled()
            if time.monotonic() > deadline:
                raise VariantFailed(f"{spec.variant} did not finish within {timeout_s:.0f} s")
            try:
                line = lines.get(timeout=0.25)
            except queue.Empty:
                continue
            if line is None:
                break
            event = json.loads(line)
            if event.get("kind") == "result":
                result = event["data"]
            elif event.get("kind") == "error":
                raise VariantFailed(event["text"])
            else:
                on_event(event)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if result is None:
        tail = ""
        if stderr_path:
            tail = stderr_path.read_text(errors="replace")[-1500:]
        raise VariantFailed(f"{spec.variant} worker exited with {proc.returncode}: {tail}")
    return result


def _events_out() -> Iterator[Callable[[dict[str, Any]], None]]:
    """Events go to the real stdout; anything libraries print is sent to stderr instead."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def emit(event: dict[str, Any]) -> None:
        out.write(json.dumps(event) + "\n")
        out.flush()

    yield emit
    out.close()


def main() -> int:
    for emit in _events_out():
        spec = VariantSpec(**json.loads(sys.stdin.read()))
        try:
            emit({"kind": "result", "data": measure_variant(spec, emit)})
        except Exception as exc:  # reported to the parent, which fails the variant cleanly
            import traceback

            traceback.print_exc()
            emit({"kind": "error", "text": f"{spec.variant}: {type(exc).__name__}: {exc}"})
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
