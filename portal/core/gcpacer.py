"""Full garbage collections of a web process, paced around Feishu acknowledgements.

A full (generation 2) collection stops every thread of the process. After start-up's
`gc.freeze()` it walks what the process made since (each request leaves some cyclic garbage:
Django's request, session, template context), and on the two loaded cores of the
development machine it took 60-300 ms. A burst of Feishu deliveries lasts well under a
second, so one such pause inside it decided the acknowledgements' p99 (docs/operations.md,
round 8).

Python still collects the young generations by itself (cheap, a few ms). It no longer starts
a full collection by itself (its third threshold is set out of reach); a thread of this
module starts one as often as Python would have (after 10 young collections of generation 1),
but not while an acknowledgement is in flight, unless it has waited `MAX_DEFER_S` already:
memory stays bounded whatever the traffic.
"""

from __future__ import annotations

import gc
import threading
import time

# Python's own cadence: a full collection after this many generation-1 collections.
FULL_AFTER = 10
POLL_S = 0.05
MAX_DEFER_S = 2.0
UNREACHABLE = 1_000_000_000

_in_flight = 0
_lock = threading.Lock()
_started = False
full_collections = 0
forced_collections = 0  # started after MAX_DEFER_S with an acknowledgement in flight


class latency_critical:  # noqa: N801 - a context manager used like a function
    """Marks an acknowledgement in flight: no full collection starts meanwhile."""

    def __enter__(self) -> None:
        global _in_flight
        with _lock:
            _in_flight += 1

    def __exit__(self, *exc: object) -> None:
        global _in_flight
        with _lock:
            _in_flight -= 1


def start() -> threading.Thread | None:
    """Take full collections over from Python, once per process."""
    global _started
    if _started:
        return None
    _started = True
    young, middle, _full = gc.get_threshold()
    gc.set_threshold(young, middle, UNREACHABLE)
    thread = threading.Thread(target=_pace, name="gc-pacer", daemon=True)
    thread.start()
    return thread


def _pace() -> None:
    global full_collections, forced_collections
    due_since: float | None = None
    while True:
        time.sleep(POLL_S)
        if gc.get_count()[2] < FULL_AFTER:
            continue
        now = time.monotonic()
        due_since = due_since or now
        if _in_flight and now - due_since < MAX_DEFER_S:
            continue
        if _in_flight:
            forced_collections += 1
        gc.collect(2)
        full_collections += 1
        due_since = None
