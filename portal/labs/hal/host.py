"""Facts about this host read once: /proc/cpuinfo (the CPU adapter, the runner's device
description and the kernel engine's roofline all ask for them)."""

from __future__ import annotations

import functools
import platform
from pathlib import Path


@functools.cache
def cpuinfo() -> dict[str, str]:
    """The first value of every /proc/cpuinfo key (empty where there is no such file)."""
    info: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.splitlines():
        if ":" in line:
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    return info


def cpu_model() -> str:
    return cpuinfo().get("model name") or platform.processor() or platform.machine() or "CPU"
