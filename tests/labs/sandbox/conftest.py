from tests.labs.hal.conftest import fresh_discovery  # noqa: F401 - the sandbox drives HAL devices
