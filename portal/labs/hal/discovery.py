"""Finding the accelerators of this host through every installed adapter.

Adapters come from the entry-point group `portal.hal_adapters` (a vendor SDK
adapter installs as its own package) plus the built-in list below, so
discovery works even where the portal itself is not pip-installed. An entry
point's object is a callable returning `list[Accelerator]` (or an object with
such a `probe` method); it raises `AdapterUnavailable(reason)` when its driver
is missing. Any other exception is caught too: one broken adapter never hides
the other devices.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from portal.labs.hal.types import Accelerator, AdapterUnavailable, NoSuchDevice

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "portal.hal_adapters"
BUILTIN_ADAPTERS: dict[str, str] = {
    "cpu": "portal.labs.hal.adapters.cpu:probe",
    "nvidia": "portal.labs.hal.adapters.nvidia:probe",
    "amd": "portal.labs.hal.adapters.amd:probe",
    "sim": "portal.labs.hal.adapters.sim:probe",
}

Probe = Callable[[], list[Accelerator]]


@dataclass
class DiscoveryReport:
    devices: list[Accelerator] = field(default_factory=list)
    # adapter name -> why it offers no device here
    unavailable: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "devices": [d.identity.as_dict() for d in self.devices],
            "unavailable": dict(self.unavailable),
        }


def _load(target: str) -> Probe:
    module_name, _, attr = target.partition(":")
    obj = getattr(importlib.import_module(module_name), attr or "probe")
    return getattr(obj, "probe", obj)


def adapter_targets() -> dict[str, Callable[[], Probe]]:
    """name -> loader; an installed entry point of the same name replaces the built-in."""
    loaders: dict[str, Callable[[], Probe]] = {
        name: (lambda target=target: _load(target)) for name, target in BUILTIN_ADAPTERS.items()
    }
    try:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            loaders[ep.name] = lambda ep=ep: (lambda obj: getattr(obj, "probe", obj))(ep.load())
    except Exception as exc:  # a broken distribution's metadata
        log.warning("could not read %s entry points: %s", ENTRY_POINT_GROUP, exc)
    return loaders


def probe_all() -> DiscoveryReport:
    report = DiscoveryReport()
    for name, loader in adapter_targets().items():
        try:
            found = list(loader()())
        except AdapterUnavailable as exc:
            report.unavailable[name] = str(exc)
            continue
        except Exception as exc:  # never let one adapter break discovery
            log.exception("HAL adapter %s failed", name)
            report.unavailable[name] = f"adapter failed: {type(exc).__name__}: {exc}"
            continue
        if not found:
            report.unavailable[name] = "no device found"
        report.devices.extend(found)
    return report


_cache: DiscoveryReport | None = None
_cache_lock = threading.Lock()


def discovery_report(*, refresh: bool = False) -> DiscoveryReport:
    """Devices and unavailable adapters, probed once per process unless `refresh`."""
    global _cache
    with _cache_lock:
        if _cache is None or refresh:
            _cache = probe_all()
        return _cache


def discover(*, refresh: bool = False) -> list[Accelerator]:
    """Every accelerator on this host, from every adapter (CPU first, then by adapter order)."""
    return list(discovery_report(refresh=refresh).devices)


def normalize_torch_device(torch_device: str) -> str:
    """ "cuda" -> "cuda:<current index>", "cpu:0" -> "cpu": the form DeviceIdentity.torch_device uses."""
    kind, _, index = str(torch_device).partition(":")
    if kind == "cpu":
        return "cpu"
    if not index:
        index = "0"
        if kind == "cuda":
            try:
                import torch

                if torch.cuda.is_available():
                    index = str(torch.cuda.current_device())
            except Exception:  # no torch, or a broken CUDA runtime: the first device
                pass
    return f"{kind}:{index}"


def device_for_torch(torch_device: str) -> Accelerator | None:
    """The accelerator torch drives as `torch_device` ("cpu", "cuda", "cuda:1"), or None.

    A run's torch device names the same chip the HAL knows under another key
    ("cuda:0" is "nvidia:0" or "amd:0"; "cpu" is "cpu:0"); this is the bridge.
    """
    wanted = normalize_torch_device(torch_device)
    for device in discovery_report().devices:
        have = device.identity.torch_device
        if have is not None and normalize_torch_device(have) == wanted:
            return device
    return None


def get_device(key: str) -> Accelerator:
    """The device with this key ("cpu:0", "nvidia:1", "sim:0"); raises NoSuchDevice with a reason."""
    report = discovery_report()
    for device in report.devices:
        if device.key == key:
            return device
    adapter = key.split(":", 1)[0]
    if adapter in report.unavailable:
        raise NoSuchDevice(key, report.unavailable[adapter])
    if adapter not in adapter_targets():
        raise NoSuchDevice(key, f"no adapter named {adapter!r} is installed")
    have = ", ".join(d.key for d in report.devices if d.identity.adapter == adapter)
    raise NoSuchDevice(key, f"the {adapter} adapter offers only: {have or 'nothing'}")
