from tests.labs.hal.conftest import fresh_discovery, no_nvml  # noqa: F401 - the sandbox drives HAL devices
