"""Full garbage collections of a web process wait for Feishu acknowledgements in flight
(portal/core/gcpacer.py), and never longer than MAX_DEFER_S. In a subprocess: the pacer takes
a process's full collections over for good."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import gc, json, time
    from portal.core import gcpacer

    gcpacer.POLL_S, gcpacer.MAX_DEFER_S = 0.01, 1.0
    gcpacer.start()

    def churn(seconds):
        # cyclic garbage, as requests leave it: young collections run, a full one comes due
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for _ in range(2000):
                a = []; a.append(a)
            time.sleep(0.001)

    out = {"threshold": gc.get_threshold()}
    churn(0.3)
    out["idle"] = gcpacer.full_collections  # due, nothing in flight: collected
    with gcpacer.latency_critical():
        # a collection the pacer decided on just before the acknowledgement began may still be
        # finishing (its check read nothing in flight): let it count before we start counting
        time.sleep(10 * gcpacer.POLL_S)
        before = gcpacer.full_collections
        churn(0.5)
        out["during_short_ack"] = gcpacer.full_collections - before
        churn(1.0)  # held past MAX_DEFER_S: collected anyway
        out["forced"] = gcpacer.forced_collections
    before = gcpacer.full_collections
    churn(0.3)
    out["after"] = gcpacer.full_collections - before
    print(json.dumps(out))
    """
)


def test_a_full_collection_waits_for_an_acknowledgement_but_not_forever():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["threshold"][2] == 1_000_000_000  # Python starts none itself
    assert out["idle"] >= 1
    assert out["during_short_ack"] == 0
    assert out["forced"] >= 1
    assert out["after"] >= 1
