"""Child processes that never outlive the process that started them."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def die_with_parent(*, new_process_group: bool = False) -> Callable[[], None] | None:
    """A `preexec_fn`: Linux sends the child SIGTERM when its parent dies, however it dies.

    With `new_process_group`, the child also leaves the terminal's process group, so
    Ctrl-C reaches only the parent, which then stops its children in order.
    Returns None where prctl does not exist (not Linux).
    """
    if not sys.platform.startswith("linux"):
        return (lambda: os.setpgrp()) if new_process_group else None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before the fork

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if new_process_group:
            os.setpgrp()

    return preexec
