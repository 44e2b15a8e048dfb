from __future__ import annotations

from collections.abc import Iterator

import pytest

from portal.labs.hal import discovery
from portal.labs.hal.adapters import amd, nvidia, sim


@pytest.fixture
def fresh_discovery() -> Iterator[None]:
    """Forget probed devices before and after, so monkeypatched adapters are seen and undone."""

    def reset() -> None:
        discovery._cache = None
        nvidia._initialised = False
        amd._initialised = False
        sim._instances.clear()

    reset()
    yield
    reset()


@pytest.fixture
def no_nvml(fresh_discovery, monkeypatch) -> None:
    """NVML answering as on a host without the NVIDIA driver, whether or not this one has a GPU."""
    import pynvml

    def library_not_found() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", library_not_found)
