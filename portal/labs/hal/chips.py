"""The one table of known chips: datasheet peaks for dense math (no 2:4 sparsity),
tensor/matrix cores where the chip has them.

Free of Django, so the kernel engine reads it on a bare GPU machine too. The HAL's
`Accelerator.peaks()` starts from it and prefers measured figures (peaks.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from portal.labs.hal.types import PeakFigures


@dataclass(frozen=True)
class KnownChip:
    name: str
    pattern: str  # matched case-insensitively against the model name the driver reports
    memory_gb: float
    fp32: float | None
    fp16: float | None
    bf16: float | None
    int8: float | None
    bandwidth_gbps: float
    tdp_w: float | None = None


# Ordered: the first match wins, so variants come before the family name.
KNOWN_CHIPS: tuple[KnownChip, ...] = (
    KnownChip("NVIDIA B200", r"\bB200\b", 180, None, 2250, 2250, 4500, 8000, 1000),
    KnownChip("NVIDIA H200 NVL", r"H200\s*NVL", 141, 60, 835.5, 835.5, 1671, 4800, 600),
    KnownChip("NVIDIA H200 SXM", r"\bH200\b", 141, 67, 989.4, 989.4, 1979, 4800, 700),
    KnownChip("NVIDIA H100 NVL", r"H100\s*NVL", 94, 60, 835.5, 835.5, 1671, 3900, 400),
    KnownChip("NVIDIA H100 PCIe", r"H100\s*PCIe", 80, 51, 756.5, 756.5, 1513, 2000, 350),
    KnownChip("NVIDIA H100 SXM", r"\bH100\b", 80, 67, 989.4, 989.4, 1979, 3350, 700),
    KnownChip("NVIDIA H800", r"\bH800\b", 80, 67, 989.4, 989.4, 1979, 3350, 700),
    KnownChip("NVIDIA H20", r"\bH20\b", 96, 44, 148, 148, 296, 4000, 400),
    KnownChip("NVIDIA A100 40GB PCIe", r"A100.*PCIE.*40", 40, 19.5, 312, 312, 624, 1555, 250),
    KnownChip("NVIDIA A100 80GB PCIe", r"A100.*PCIE", 80, 19.5, 312, 312, 624, 1935, 300),
    KnownChip("NVIDIA A100 40GB SXM", r"A100.*40", 40, 19.5, 312, 312, 624, 1555, 400),
    KnownChip("NVIDIA A100 80GB SXM", r"\bA100\b", 80, 19.5, 312, 312, 624, 2039, 400),
    KnownChip("NVIDIA A800", r"\bA800\b", 80, 19.5, 312, 312, 624, 2039, 400),
    KnownChip("NVIDIA A10", r"\bA10\b", 24, 31.2, 125, 125, 250, 600, 150),
    KnownChip("NVIDIA L40S", r"\bL40S\b", 48, 91.6, 362.05, 362.05, 733, 864, 350),
    KnownChip("NVIDIA L40", r"\bL40\b", 48, 90.5, 181, 181, 362, 864, 300),
    KnownChip("NVIDIA L4", r"\bL4\b", 24, 30.3, 121, 121, 242.5, 300, 72),
    KnownChip("NVIDIA V100 SXM2", r"\bV100\b", 32, 15.7, 125, None, None, 900, 300),
    KnownChip("NVIDIA T4", r"\bT4\b", 16, 8.1, 65, None, 130, 320, 70),
    KnownChip("NVIDIA GeForce RTX 5090", r"RTX\s*5090", 32, 104.8, 209.5, 209.5, 838, 1792, 575),
    KnownChip("NVIDIA GeForce RTX 4090", r"RTX\s*4090", 24, 82.6, 165.2, 165.2, 660.6, 1008, 450),
    KnownChip("NVIDIA GeForce RTX 3090", r"RTX\s*3090", 24, 35.6, 71, 71, 284, 936, 350),
    KnownChip("AMD Instinct MI325X", r"MI325X", 256, 163.4, 1307.4, 1307.4, 2614.9, 6000, 1000),
    KnownChip("AMD Instinct MI300X", r"MI300X", 192, 163.4, 1307.4, 1307.4, 2614.9, 5300, 750),
    KnownChip("AMD Instinct MI250X", r"MI250X", 128, 95.7, 383, 383, 383, 3276.8, 560),
    KnownChip("AMD Instinct MI210", r"MI210", 64, 45.3, 181, 181, 181, 1638.4, 300),
)


def known_chip(model: str) -> KnownChip | None:
    for chip in KNOWN_CHIPS:
        if re.search(chip.pattern, model, re.IGNORECASE):
            return chip
    return None


def lookup_peaks(model: str) -> PeakFigures:
    chip = known_chip(model)
    if chip is None:
        return PeakFigures(source="unknown", note=f"{model!r} is not in the table of known chips")
    return PeakFigures(
        fp32_tflops=chip.fp32,
        fp16_tflops=chip.fp16,
        bf16_tflops=chip.bf16,
        int8_tops=chip.int8,
        memory_bandwidth_gbps=chip.bandwidth_gbps,
        source="table",
        note=f"datasheet, {chip.name}, dense",
    )
