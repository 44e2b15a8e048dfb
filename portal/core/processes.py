"""Child processes that never outlive the process that started them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

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


def process_table() -> list[dict]:
    """The process table from /proc: pid, parent, process group, state and command line."""
    table = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # it ended while we looked
            continue
        # the command name in parentheses may hold spaces: split after the last ")"
        state, ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
        table.append(
            {
                "pid": int(entry.name),
                "ppid": int(ppid),
                "pgrp": int(pgrp),
                "state": state,
                "cmd": cmdline,
            }
        )
    return table


def live_in_group(pgrp: int) -> list[dict]:
    """The group's processes that are still running (zombies, already dead, left out)."""
    return [p for p in process_table() if p["pgrp"] == pgrp and p["state"] != "Z"]


def _group_ended(proc: subprocess.Popen, within_s: float) -> bool:
    """Waits up to `within_s` for the leader to exit and its group to have no live process."""
    deadline = time.monotonic() + within_s
    while proc.poll() is None or live_in_group(proc.pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def stop_group(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM a process's whole group, SIGKILL whatever is still running after `grace_s`.

    The leader leads its own group (`start_new_session`). Waiting for the leader alone is
    not enough: a child it leaves behind, such as multiprocessing's resource tracker,
    which ignores SIGTERM and exits only after its cleanup, can outlive it. A leader that
    already ended has its leftover group stopped the same way.
    """
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    if _group_ended(proc, grace_s):
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    # SIGKILL cannot be ignored; give the kernel a moment to take them down
    _group_ended(proc, 5)
