"""The load-test client against a local fake server with known timing."""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from portal.labs.llm.loadtest import (
    LoadSpec,
    RequestResult,
    Slo,
    percentile,
    run_load,
    summarize,
)

TTFT = 0.12
ITL = 0.03
TOKENS = 5
# the fields `transformers serve` accepts on /v1/completions (it answers 422 to others)
TRANSFORMERS_FIELDS = {"model", "prompt", "max_tokens", "temperature", "stream", "stream_options"}


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeHandler)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrivals: list[float] = []
        self.bodies: list[dict] = []
        # like `transformers serve`: unknown fields are a 422
        self.strict = False
        # like a model that emits its end-of-sequence token: stop after this many tokens
        self.eos_after: int | None = None
        # like a server that streams text but no usage
        self.send_usage = True


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def log_message(self, *args) -> None:
        pass

    def _chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.arrivals.append(time.perf_counter())
            self.server.bodies.append(body)
            self.server.in_flight += 1
            self.server.max_in_flight = max(self.server.max_in_flight, self.server.in_flight)
        try:
            if body["prompt"] == "fail":
                data = b'{"error": {"message": "boom"}}'
                self.send_response(500)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if self.server.strict and (unexpected := set(body) - TRANSFORMERS_FIELDS):
                data = json.dumps({"detail": f"Unexpected fields in the request: {unexpected}"})
                self.send_response(422)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data.encode())
                return
            produced = body["max_tokens"]
            if self.server.eos_after is not None and not body.get("ignore_eos"):
                produced = min(produced, self.server.eos_after)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            time.sleep(TTFT)
            for i in range(produced):
                if i:
                    time.sleep(ITL)
                event = {"choices": [{"index": 0, "text": f" t{i}", "finish_reason": None}]}
                self._chunk(f"data: {json.dumps(event)}\n\n")
            reason = "length" if produced == body["max_tokens"] else "stop"
            last: dict = {"choices": [{"index": 0, "text": "", "finish_reason": reason}]}
            if self.server.send_usage:
                last["usage"] = {"prompt_tokens": 3, "completion_tokens": produced}
            self._chunk(f"data: {json.dumps(last)}\n\n")
            self._chunk("data: [DONE]\n\n")
            self._chunk("")
        finally:
            with self.server.lock:
                self.server.in_flight -= 1


@pytest.fixture
def fake() -> Iterator[tuple[FakeServer, str]]:
    server = FakeServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_percentiles_interpolate_linearly_like_numpy():
    values = [0.3, 0.1, 0.9, 0.5, 0.7, 0.2, 1.0, 0.4, 0.8, 0.6]
    for p in (0, 25, 50, 90, 99, 100):
        assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)))
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5.0], 99) == 5.0


def test_summaries_count_failures_goodput_and_tpot_from_known_requests():
    results = [
        RequestResult(ok=True, ttft=0.1, e2e=0.5, itl=[0.1] * 4, output_tokens=5),
        RequestResult(ok=True, ttft=0.3, e2e=1.1, itl=[0.2] * 4, output_tokens=5),
        RequestResult(ok=True, ttft=0.2, e2e=0.2, itl=[], output_tokens=1),
        RequestResult(ok=False, error="HTTP 500: boom"),
    ]
    s = summarize(results, duration_s=2.0, slo=Slo(ttft_ms=250, tpot_ms=150))
    assert (s["completed"], s["failed"]) == (3, 1)
    assert s["request_throughput"] == 1.5
    assert s["output_throughput"] == 5.5
    # TPOT: (0.5-0.1)/4 = 100 ms and (1.1-0.3)/4 = 200 ms; the 1-token request has none
    assert s["tpot_ms"]["mean"] == pytest.approx(150)
    assert s["tpot_ms"]["p50"] == pytest.approx(150)
    # good: request 1 (100 ms TPOT) and 3 (one token, TTFT 200 ms); 2 misses TTFT and TPOT
    assert s["goodput"] == 1.0
    assert s["slo_attainment"] == 0.5
    assert s["ttft_ms"]["p50"] == pytest.approx(200)
    assert s["ttft_ms"]["p90"] == pytest.approx(280)
    assert s["e2e_ms"]["p99"] == pytest.approx(float(np.percentile([500, 1100, 200], 99)))
    assert s["itl_ms"]["p50"] == pytest.approx(150)
    assert s["errors"] == ["HTTP 500: boom"]


def test_streamed_requests_are_timed_as_the_server_paced_them(fake):
    server, url = fake
    spec = LoadSpec(num_requests=4, max_tokens=TOKENS, concurrency=2)
    results, duration = asyncio.run(run_load(url, "m", ["hello"], spec))
    assert len(results) == 4 and all(r.ok for r in results)
    for r in results:
        assert r.output_tokens == TOKENS and r.prompt_tokens == 3
        assert TTFT <= r.ttft < TTFT + 0.25
        assert len(r.itl) == TOKENS - 1
        # One gap can shrink when the chunk before it was delayed (a busy machine); the
        # decode span as a whole cannot be shorter than the server's pacing allows.
        assert sum(r.itl) >= (TOKENS - 1) * ITL * 0.8
        assert statistics.median(r.itl) < ITL + 0.05
        assert r.e2e >= TTFT + (TOKENS - 1) * ITL
        assert r.tpot == pytest.approx((r.e2e - r.ttft) / (TOKENS - 1))
    assert server.max_in_flight == 2
    # two waves of two requests: each at least TTFT + 4 ITL
    assert duration >= 2 * (TTFT + (TOKENS - 1) * ITL)


def test_fixed_concurrency_never_exceeds_its_workers(fake):
    server, url = fake
    spec = LoadSpec(num_requests=9, max_tokens=2, concurrency=3)
    results, _ = asyncio.run(run_load(url, "m", ["a", "b"], spec))
    assert len(results) == 9
    assert server.max_in_flight == 3


def test_poisson_arrivals_follow_the_requested_rate(fake):
    server, url = fake
    spec = LoadSpec(num_requests=12, max_tokens=1, rate=40.0, seed=3)
    results, _ = asyncio.run(run_load(url, "m", ["x"], spec))
    assert all(r.ok for r in results)
    gaps = np.diff(sorted(r.start for r in results))
    # mean exponential inter-arrival 25 ms; 11 gaps: generous bounds, never all at once
    assert 0.008 < gaps.mean() < 0.08
    starts = sorted(r.start for r in results)
    assert starts[-1] > 0.05


def test_an_infinite_rate_sends_everything_at_once_under_a_concurrency_cap(fake):
    server, url = fake
    spec = LoadSpec(num_requests=6, max_tokens=1, rate=float("inf"), max_concurrency=4)
    results, _ = asyncio.run(run_load(url, "m", ["x"], spec))
    assert len(results) == 6
    assert server.max_in_flight == 4


def test_server_errors_are_counted_as_failures_with_their_message(fake):
    _, url = fake
    spec = LoadSpec(num_requests=4, max_tokens=2, concurrency=2)
    results, duration = asyncio.run(run_load(url, "m", ["ok", "fail"], spec))
    s = summarize(results, duration, Slo())
    assert (s["completed"], s["failed"]) == (2, 2)
    assert s["errors"] == ['HTTP 500: {"error": {"message": "boom"}}']


def test_an_unreachable_server_fails_every_request_without_raising():
    spec = LoadSpec(num_requests=2, max_tokens=2, concurrency=1, timeout_s=2)
    results, _ = asyncio.run(run_load("http://127.0.0.1:9", "m", ["x"], spec))
    assert [r.ok for r in results] == [False, False]
    assert all("ConnectError" in r.error for r in results)


def test_a_load_spec_needs_exactly_one_of_rate_and_concurrency():
    with pytest.raises(ValueError):
        asyncio.run(run_load("http://x", "m", ["x"], LoadSpec(num_requests=1, max_tokens=1)))


def test_a_server_that_stops_early_at_eos_is_measured_on_the_tokens_it_produced(fake):
    server, url = fake
    server.strict, server.eos_after = True, 2
    spec = LoadSpec(num_requests=3, max_tokens=TOKENS, concurrency=3)
    results, duration = asyncio.run(run_load(url, "m", ["hello"], spec))
    assert all(r.ok for r in results), results[0].error
    # no ignore_eos in the requests: a strict server would have refused them
    assert all("ignore_eos" not in body for body in server.bodies)
    for r in results:
        assert r.output_tokens == 2 and r.stopped_early
        assert len(r.itl) == 1
        # TPOT over the one decode step that happened, not over max_tokens - 1
        assert r.tpot == pytest.approx(r.e2e - r.ttft)
    s = summarize(results, duration, Slo())
    assert s["total_output_tokens"] == 6 and s["mean_output_tokens"] == 2
    assert s["stopped_early"] == 3
    assert s["output_throughput"] == pytest.approx(6 / duration)


def test_a_request_that_reaches_max_tokens_did_not_stop_early(fake):
    server, url = fake
    server.eos_after = TOKENS + 10
    spec = LoadSpec(num_requests=2, max_tokens=TOKENS, concurrency=1)
    results, duration = asyncio.run(run_load(url, "m", ["hello"], spec))
    assert [r.output_tokens for r in results] == [TOKENS, TOKENS]
    assert summarize(results, duration, Slo())["stopped_early"] == 0


def test_ignore_eos_is_sent_only_when_asked_for_and_gives_the_full_length(fake):
    server, url = fake
    server.eos_after = 1
    spec = LoadSpec(num_requests=2, max_tokens=TOKENS, concurrency=1, ignore_eos=True)
    results, _ = asyncio.run(run_load(url, "m", ["hello"], spec))
    assert [body.get("ignore_eos") for body in server.bodies] == [True, True]
    assert [(r.output_tokens, r.stopped_early) for r in results] == [(TOKENS, False)] * 2


def test_a_server_that_rejects_ignore_eos_fails_those_requests_with_its_422(fake):
    server, url = fake
    server.strict = True
    spec = LoadSpec(num_requests=1, max_tokens=2, concurrency=1, ignore_eos=True)
    results, _ = asyncio.run(run_load(url, "m", ["hello"], spec))
    assert not results[0].ok
    assert results[0].error.startswith("HTTP 422") and "ignore_eos" in results[0].error


def test_without_usage_each_streamed_chunk_counts_as_one_token(fake):
    server, url = fake
    server.send_usage, server.eos_after = False, 3
    spec = LoadSpec(num_requests=1, max_tokens=TOKENS, concurrency=1)
    results, _ = asyncio.run(run_load(url, "m", ["hello"], spec))
    assert (results[0].output_tokens, results[0].stopped_early) == (3, True)


def test_a_completion_that_ends_before_any_text_is_an_empty_answer_not_a_failure(fake):
    server, url = fake
    server.eos_after = 0
    spec = LoadSpec(num_requests=1, max_tokens=TOKENS, concurrency=1)
    [r], _ = asyncio.run(run_load(url, "m", ["hello"], spec))
    assert r.ok, r.error
    assert (r.output_tokens, r.stopped_early, r.ttft) == (0, True, r.e2e)
    assert r.tpot is None
