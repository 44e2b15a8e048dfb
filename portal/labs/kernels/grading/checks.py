"""Every way a submission can be stopped, with the words the learner reads when it trips.

Kept free of torch so pages can show the list without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass


def gettext_noop(message: str) -> str:
    """Marks a string for translation; pages translate it when shown."""
    return message


@dataclass(frozen=True)
class Check:
    key: str
    verdict: str  # "failed" or "refused": refused when the sandbox or a limit stopped it
    title: str
    explanation: str


CHECKS: dict[str, Check] = {
    c.key: c
    for c in [
        Check(
            "sandbox_unavailable",
            "refused",
            gettext_noop("No sandbox on this worker"),
            gettext_noop(
                "Learner code only runs inside bubblewrap (no network, no portal files, "
                "an unprivileged user). This worker cannot start it, so the submission "
                "was not run. Staff can allow unsandboxed grading on a single-user "
                "install."
            ),
        ),
        Check(
            "syntax_error",
            "failed",
            gettext_noop("Syntax error"),
            gettext_noop("Python could not parse the file; the line number is your file's."),
        ),
        Check(
            "import_error",
            "failed",
            gettext_noop("Error while loading the module"),
            gettext_noop(
                "Running the module's top level (imports, load_inline builds) raised; "
                "the traceback shows only lines of your file."
            ),
        ),
        Check(
            "missing_kernel",
            "failed",
            gettext_noop("No custom_kernel"),
            gettext_noop(
                "The module must define a function custom_kernel(data) that returns "
                "the output for data, the tuple of input tensors."
            ),
        ),
        Check(
            "exception",
            "failed",
            gettext_noop("custom_kernel raised"),
            gettext_noop(
                "Your function raised on one of the inputs; the traceback shows only "
                "lines of your file."
            ),
        ),
        Check(
            "not_a_tensor",
            "failed",
            gettext_noop("Output is not a tensor"),
            gettext_noop("custom_kernel must return one torch.Tensor."),
        ),
        Check(
            "subclass",
            "failed",
            gettext_noop("Tensor subclass returned"),
            gettext_noop(
                "Outputs must be plain torch.Tensor objects: a subclass can change "
                "what comparisons and timers see."
            ),
        ),
        Check(
            "aliasing",
            "failed",
            gettext_noop("Output aliases an input"),
            gettext_noop(
                "The output shares memory with an input (a view, or the input itself). "
                "Write the result to memory of its own."
            ),
        ),
        Check(
            "wrong_shape",
            "failed",
            gettext_noop("Wrong output shape"),
            gettext_noop("The output's shape differs from the reference's."),
        ),
        Check(
            "wrong_dtype",
            "failed",
            gettext_noop("Wrong output dtype"),
            gettext_noop("The output must have the dtype of the problem you chose."),
        ),
        Check(
            "wrong_strides",
            "failed",
            gettext_noop("Output not contiguous"),
            gettext_noop(
                "Outputs must be contiguous (row-major), as the reference is; a strided "
                "view can hide unwritten memory."
            ),
        ),
        Check(
            "wrong_device",
            "failed",
            gettext_noop("Output on the wrong device"),
            gettext_noop("The output must be on the device the inputs are on."),
        ),
        Check(
            "input_modified",
            "failed",
            gettext_noop("Input modified"),
            gettext_noop(
                "Inputs must come back unchanged: the parent compares every input the "
                "kernel saw with its own copy, bit for bit."
            ),
        ),
        Check(
            "nan_output",
            "failed",
            gettext_noop("NaN or Inf in the output"),
            gettext_noop(
                "The output memory is filled with NaN before every call: elements your "
                "kernel never writes stay NaN and fail here."
            ),
        ),
        Check(
            "tolerance",
            "failed",
            gettext_noop("Outside tolerance"),
            gettext_noop(
                "Some outputs differ from the float64 reference by more than "
                "atol * rms(ref) + rtol * |ref| for this dtype. Inputs are fresh random "
                "data from a secret seed every time."
            ),
        ),
        Check(
            "timing_output_wrong",
            "failed",
            gettext_noop("Wrong answer while timed"),
            gettext_noop(
                "Outputs of the timed calls are checked too (each timed call gets "
                "never-seen inputs): a kernel that is only right when checked, or that "
                "returns a cached answer, fails here."
            ),
        ),
        Check(
            "timer_mismatch",
            "failed",
            gettext_noop("Timer disagrees with the wall clock"),
            gettext_noop(
                "The times measured beside your kernel are cross-checked with the "
                "grader's own clock in another process. They disagreed by more than 2x: "
                "work outside the timed region (side streams, deferred work) or a "
                "replaced timer."
            ),
        ),
        Check(
            "below_roofline",
            "failed",
            gettext_noop("Faster than the hardware allows"),
            gettext_noop(
                "The time is below the roofline floor: moving the problem's bytes at "
                "peak bandwidth, or doing its flops at peak compute, takes longer. "
                "The kernel cannot have done the work it claims."
            ),
        ),
        Check(
            "below_cpu_roofline",
            "flagged",
            gettext_noop("Faster than the measured CPU roof"),
            gettext_noop(
                "On a CPU the memory roof is a copy bandwidth measured on this machine "
                "(lower while it is busy), so a kernel can beat it honestly. It passed "
                "every check and waits for a staff review before it is ranked."
            ),
        ),
        Check(
            "suspicious_speedup",
            "flagged",
            gettext_noop("Flagged for review"),
            gettext_noop(
                "More than 10x faster than the best PyTorch baseline: possible, but "
                "often a trick. It passed every check and waits for a staff review "
                "before it is ranked."
            ),
        ),
        Check(
            "time_limit",
            "refused",
            gettext_noop("Time limit"),
            gettext_noop(
                "The sandbox ran past its wall-clock or CPU-time limit and was killed "
                "(an infinite loop, or a far too slow kernel)."
            ),
        ),
        Check(
            "memory_limit",
            "refused",
            gettext_noop("Memory limit"),
            gettext_noop("The sandbox's address-space limit stopped an allocation."),
        ),
        Check(
            "process_limit",
            "refused",
            gettext_noop("Process limit"),
            gettext_noop("The sandbox allows only a few processes; creating more failed."),
        ),
        Check(
            "network",
            "refused",
            gettext_noop("No network"),
            gettext_noop("The sandbox has no network: sockets cannot reach anything."),
        ),
        Check(
            "file_access",
            "refused",
            gettext_noop("File access outside the sandbox"),
            gettext_noop(
                "Only the working directory (a small tmpfs) is writable and nothing "
                "of the host (no /etc, no portal files) is visible."
            ),
        ),
        Check(
            "output_too_large",
            "refused",
            gettext_noop("Output too large"),
            gettext_noop("The sandbox sent more bytes than the outputs can take; it was stopped."),
        ),
        Check(
            "crashed",
            "failed",
            gettext_noop("The process died"),
            gettext_noop(
                "The sandboxed process ended without reporting (a segfault in a "
                "native extension, or a signal)."
            ),
        ),
    ]
}
