"""Stopping a server's process group stops every process in it, not only its leader."""

from __future__ import annotations

import subprocess
import sys
import time

from portal.core.processes import live_in_group, stop_group

# The leader starts a child that ignores SIGTERM, as multiprocessing's resource tracker
# does, then waits. The child lives on for CHILD_S seconds after the leader is gone.
LEADER = """
import signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", '''
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(float(sys.argv[1]))
''', sys.argv[1]], stdout=sys.stdout)
time.sleep(3600)
"""


def start(child_s: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", LEADER, str(child_s)],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout.readline() == b"ready\n"
    assert len(live_in_group(proc.pid)) == 2
    return proc


def test_a_child_that_ignores_sigterm_and_ends_within_the_grace_is_waited_for():
    proc = start(child_s=0.6)
    began = time.monotonic()
    stop_group(proc, grace_s=10)
    took = time.monotonic() - began
    assert live_in_group(proc.pid) == []
    assert proc.returncode == -15  # the leader took SIGTERM: no SIGKILL was needed
    assert 0.4 < took < 9  # waited for the child, did not sit out the whole grace


def test_a_child_still_running_after_the_grace_is_killed():
    proc = start(child_s=3600)
    began = time.monotonic()
    stop_group(proc, grace_s=1)
    assert live_in_group(proc.pid) == []
    assert time.monotonic() - began < 8
