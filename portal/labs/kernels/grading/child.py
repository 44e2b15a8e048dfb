"""The untrusted side of grading: runs INSIDE the sandbox, next to the learner's code.

This file is copied alone into the sandbox (it must import nothing of the portal,
whose files are not there). It reads the job (spec.json + inputs.safetensors) from
the read-only /in directory, runs the learner's `custom_kernel` and sends back, on
the file descriptor named by GRADER_FD, length-prefixed frames: a JSON header and,
for tensors, a safetensors blob (never pickle). The trusted parent compares every
value against references this process never sees, and cross-checks every timing
against its own wall clock: nothing here is trusted, it only reports.
"""

from __future__ import annotations

import json
import os
import struct
import time

# Captured before the learner's code can replace them (the parent's wall-clock
# cross-check catches a replacement of the originals themselves).
_perf_ns = time.perf_counter_ns
_FD = int(os.environ.get("GRADER_FD", "3"))
_IN = os.environ.get("GRADER_IN", "/in")
_CTL = int(os.environ.get("GRADER_CTL", "4"))


def send(header: dict, blob: bytes = b"") -> None:
    header = {**header, "nbytes": len(blob)}
    raw = json.dumps(header).encode()
    data = struct.pack(">I", len(raw)) + raw + blob
    view = memoryview(data)
    while view:
        written = os.write(_FD, view)
        view = view[written:]


send({"event": "started", "pid": os.getpid()})

import traceback  # noqa: E402

import torch  # noqa: E402
from safetensors.torch import load_file, save  # noqa: E402

_Event = torch.cuda.Event
_sync = torch.cuda.synchronize
_Tensor = torch.Tensor

SOURCE_NAME = "submission.py"


def error_frame(stage: str, exc: BaseException) -> dict:
    """The exception as the learner should read it: only frames of their own file."""
    line = getattr(exc, "lineno", None) if isinstance(exc, SyntaxError) else None
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == SOURCE_NAME]
    if frames and line is None:
        line = frames[-1].lineno
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    own = "".join(traceback.format_list(frames)) if frames else ""
    return {
        "event": "error",
        "stage": stage,
        "type": type(exc).__name__,
        "errno": getattr(exc, "errno", None),
        "message": text[-2000:],
        "line": line,
        "traceback": own[-4000:],
    }


def structural(out: object, inputs: tuple) -> dict:
    """Facts the values alone do not show: subclass, aliasing, layout."""
    if not isinstance(out, _Tensor):
        return {"type": type(out).__name__}
    facts = {
        "type": type(out).__name__,
        "exact_tensor": type(out) is _Tensor,
        "strides": list(out.stride()),
        "contiguous": out.is_contiguous(),
        "device": out.device.type,
        "aliases_input": False,
    }
    if out.numel():
        ptr = out.untyped_storage().data_ptr()
        facts["aliases_input"] = any(t.untyped_storage().data_ptr() == ptr for t in inputs)
    return facts


def poison(nbytes: int, device: torch.device) -> None:
    # 0xFF bytes are NaN in every float format: unwritten output elements stay NaN.
    if nbytes > 0:
        block = torch.empty(nbytes, dtype=torch.uint8, device=device)
        block.fill_(0xFF)
        del block


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        _sync(device)


def plain(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu").contiguous().clone()


def main() -> int:
    spec = json.loads(open(f"{_IN}/spec.json").read())
    device = torch.device(spec["device"])
    tensors = load_file(f"{_IN}/inputs.safetensors")
    source = open(f"{_IN}/submission.py").read()
    torch.manual_seed(int.from_bytes(os.urandom(4), "little"))
    send({"event": "imported", "torch": torch.__version__})

    def inputs(prefix: str, nargs: int) -> tuple:
        # A copy in the kernel's own memory: the loaded tensors are mapped from the file, and
        # their first touch (page faults) would otherwise land inside the timed call.
        return tuple(tensors[f"{prefix}/{i}"].to(device, copy=True) for i in range(nargs))

    namespace: dict = {"__name__": "submission", "__file__": SOURCE_NAME}
    try:
        code = compile(source, SOURCE_NAME, "exec")
        exec(code, namespace)
    except BaseException as exc:  # noqa: BLE001 - the learner's error is the report
        send(error_frame("compile", exc))
        return 0
    fn = namespace.get("custom_kernel")
    if not callable(fn):
        send(
            {
                "event": "error",
                "stage": "compile",
                "type": "MissingKernel",
                "line": None,
                "message": "the module defines no callable custom_kernel(data)",
                "traceback": "",
            }
        )
        return 0
    send({"event": "compiled"})

    nargs = spec["nargs"]
    for case in spec["checks"]:
        data = inputs(case["key"], nargs)
        poison(case["out_bytes"], device)
        try:
            out = fn(data)
            sync(device)
        except BaseException as exc:  # noqa: BLE001
            send(error_frame("correctness", exc))
            return 0
        facts = structural(out, data)
        blob = b""
        if isinstance(out, _Tensor) and facts.get("exact_tensor"):
            back = {"out": plain(out)}
            back.update({f"in/{i}": plain(t) for i, t in enumerate(data)})
            blob = save(back)
        send({"event": "check", "key": case["key"], "facts": facts}, blob)
        del out, data

    if spec["time"]:
        for bench in spec["benches"]:
            if not time_one(fn, bench, nargs, inputs, device):
                return 0
    send({"event": "done"})
    return 0


def _read_exact(fd: int, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            raise EOFError("the grader closed the control pipe")
        data += chunk
    return data


def time_one(fn, bench: dict, nargs: int, inputs, device: torch.device) -> bool:
    """Times one benchmark shape: every timed call gets its own never-seen input set,
    a cache flush and poisoned output memory; then a batch of back-to-back calls on
    more never-seen inputs, as many as the parent asks for, timed by the parent's clock."""
    keys = bench["keys"]
    warm = bench["warmup_keys"]
    flush = torch.empty(bench["flush_bytes"] // 4, dtype=torch.int32, device=device)
    try:
        for key in warm:
            fn(inputs(key, nargs))
        sync(device)
        times, outs = [], {}
        for i, key in enumerate(keys):
            data = inputs(key, nargs)
            flush.zero_()
            poison(bench["out_bytes"], device)
            if device.type == "cuda":
                start, end = _Event(enable_timing=True), _Event(enable_timing=True)
                start.record()
                out = fn(data)
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
            else:
                t0 = _perf_ns()
                out = fn(data)
                times.append((_perf_ns() - t0) / 1e6)
            # Kept until the grader, now that the loop is over, names the calls it checks.
            outs[i] = out
        send({"event": "timing", "shape": bench["shape"], "times_ms": times})
        (count,) = struct.unpack(">I", _read_exact(_CTL, 4))
        picked = struct.unpack(f">{count}I", _read_exact(_CTL, 4 * count))
        back = {f"out/{i}": plain(outs[i]) for i in picked if isinstance(outs.get(i), _Tensor)}
        send({"event": "timed_outputs", "shape": bench["shape"]}, save(back) if back else b"")
        del outs, back
        # The parent sizes the batch from the times just sent, then starts its clock.
        # Repeated while the parent asks (a busy host's latency spike spoils one try);
        # 0 calls ends it.
        calls = struct.unpack(">I", _read_exact(_CTL, 4))[0]
        while calls:
            batch = [inputs(k, nargs) for k in bench["batch_keys"][:calls]]
            sync(device)
            send({"event": "batch_begin", "shape": bench["shape"], "calls": len(batch)})
            _read_exact(_CTL, 1)
            for data in batch:
                fn(data)
            sync(device)
            send({"event": "batch_end", "shape": bench["shape"], "calls": len(batch)})
            del batch
            calls = struct.unpack(">I", _read_exact(_CTL, 4))[0]
        send({"event": "batch_done", "shape": bench["shape"]})
    except BaseException as exc:  # noqa: BLE001
        send(error_frame("timing", exc))
        return False
    return True


if __name__ == "__main__":
    try:
        main()
    except BaseException as exc:  # noqa: BLE001
        send(error_frame("harness", exc))
    # Skip interpreter teardown: learner objects' finalizers get no chance to run.
    os._exit(0)
