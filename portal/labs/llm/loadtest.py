"""A load-test client for OpenAI-compatible servers (asyncio + httpx, streaming).

Modelled on vLLM's `bench serve`: requests arrive as a Poisson process at a given
rate (or all at once, `rate=inf`), optionally capped at a maximum concurrency, or
are sent by a fixed number of concurrent workers. Each request is streamed and
timed: TTFT (first non-empty text), ITL (gaps between later chunks), TPOT
((e2e − TTFT) / (output tokens − 1)), end-to-end latency. Summaries give mean,
median and percentiles (linear interpolation, as numpy), request and output
token throughput, failures, and goodput against SLOs.

Output lengths are what the server says it produced (`usage.completion_tokens`, else
one token per streamed chunk), never `max_tokens`: `transformers serve` has no
`ignore_eos` (it answers 422 to unknown fields) and stops at the end-of-sequence token,
so only servers that accept `ignore_eos` (vLLM) are asked for it, and throughput, TPOT
and the "stopped early" count use the tokens that really came back.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import httpx

Api = Literal["completions", "chat"]
PERCENTILES = (50, 90, 99)


@dataclass
class RequestResult:
    ok: bool
    start: float = 0.0  # seconds since the run began
    ttft: float = 0.0
    e2e: float = 0.0
    itl: list[float] = field(default_factory=list)
    output_tokens: int = 0
    prompt_tokens: int = 0
    # the server ended before max_tokens (end-of-sequence or a stop string)
    stopped_early: bool = False
    error: str = ""

    @property
    def tpot(self) -> float | None:
        if not self.ok or self.output_tokens < 2:
            return None
        return (self.e2e - self.ttft) / (self.output_tokens - 1)


@dataclass(frozen=True)
class Slo:
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2e_ms: float | None = None

    def met_by(self, r: RequestResult) -> bool:
        if not r.ok:
            return False
        if self.ttft_ms is not None and r.ttft * 1000 > self.ttft_ms:
            return False
        tpot = r.tpot
        if self.tpot_ms is not None and tpot is not None and tpot * 1000 > self.tpot_ms:
            return False
        return not (self.e2e_ms is not None and r.e2e * 1000 > self.e2e_ms)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile with linear interpolation between order statistics (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    lo = math.floor(rank)
    hi = math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def distribution_ms(values: Sequence[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    out = {
        "mean": statistics.fmean(ms) if ms else float("nan"),
        "std": statistics.pstdev(ms) if ms else float("nan"),
    }
    for p in PERCENTILES:
        out[f"p{p}"] = percentile(ms, p)
    return out


def summarize(results: list[RequestResult], duration_s: float, slo: Slo) -> dict[str, Any]:
    ok = [r for r in results if r.ok]
    out_tokens = sum(r.output_tokens for r in ok)
    good = sum(1 for r in ok if slo.met_by(r))
    duration_s = max(duration_s, 1e-9)
    return {
        "completed": len(ok),
        "failed": len(results) - len(ok),
        "duration_s": duration_s,
        "total_input_tokens": sum(r.prompt_tokens for r in ok),
        "total_output_tokens": out_tokens,
        "mean_output_tokens": out_tokens / len(ok) if ok else float("nan"),
        "stopped_early": sum(1 for r in ok if r.stopped_early),
        "request_throughput": len(ok) / duration_s,
        "output_throughput": out_tokens / duration_s,
        "goodput": good / duration_s,
        "slo_attainment": good / len(results) if results else float("nan"),
        "ttft_ms": distribution_ms([r.ttft for r in ok]),
        "tpot_ms": distribution_ms([t for r in ok if (t := r.tpot) is not None]),
        "itl_ms": distribution_ms([gap for r in ok for gap in r.itl]),
        "e2e_ms": distribution_ms([r.e2e for r in ok]),
        "errors": sorted({r.error for r in results if r.error})[:5],
    }


async def send_request(
    client: httpx.AsyncClient,
    base_url: str,
    *,
    model: str,
    prompt: str,
    max_tokens: int,
    api: Api = "completions",
    ignore_eos: bool = False,
    t0: float | None = None,
) -> RequestResult:
    """One streamed request, timed from the moment it is sent.

    `ignore_eos` is sent only when True: servers without it (`transformers serve`)
    reject the field.
    """
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if ignore_eos:
        body["ignore_eos"] = True
    if api == "chat":
        url = f"{base_url}/v1/chat/completions"
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        url = f"{base_url}/v1/completions"
        body["prompt"] = prompt
    start = time.perf_counter()
    result = RequestResult(ok=False, start=start - (t0 if t0 is not None else start))
    chunks = 0
    finished = False  # the server said the completion is over (finish_reason or [DONE])
    last = start
    try:
        async with client.stream("POST", url, json=body) as resp:
            if resp.status_code != 200:
                detail = (await resp.aread()).decode(errors="replace")[:200]
                result.error = f"HTTP {resp.status_code}: {detail}"
                return result
            async for line in resp.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    finished = True
                    break
                event = json.loads(data)
                if event.get("usage"):
                    result.output_tokens = int(event["usage"].get("completion_tokens") or 0)
                    result.prompt_tokens = int(event["usage"].get("prompt_tokens") or 0)
                text = ""
                for choice in event.get("choices") or []:
                    finished = finished or bool(choice.get("finish_reason"))
                    text += choice.get("text") or (choice.get("delta") or {}).get("content") or ""
                if not text:
                    continue
                now = time.perf_counter()
                if chunks == 0:
                    result.ttft = now - start
                else:
                    result.itl.append(now - last)
                last = now
                chunks += 1
        result.e2e = time.perf_counter() - start
        if chunks == 0:
            if not finished:
                result.error = "no tokens in the response"
                return result
            # A completed answer without text: the model ended at once (EOS), or its
            # only token is part of a character that was never finished. The "first
            # token" then arrived with the end.
            result.ttft = result.e2e
        if result.output_tokens == 0:
            result.output_tokens = chunks  # server sent no usage: one token per chunk
        result.stopped_early = result.output_tokens < max_tokens
        result.ok = True
    except (httpx.HTTPError, json.JSONDecodeError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:200]
    return result


@dataclass(frozen=True)
class LoadSpec:
    """Either a Poisson `rate` (req/s; inf = all at once) or a fixed `concurrency`."""

    num_requests: int
    max_tokens: int
    rate: float | None = None
    concurrency: int | None = None
    max_concurrency: int | None = None  # a cap on in-flight requests in rate mode
    api: Api = "completions"
    # ask for exactly max_tokens (vLLM only; see the module docstring)
    ignore_eos: bool = False
    seed: int = 0
    timeout_s: float = 300.0


async def run_load(
    base_url: str,
    model: str,
    prompts: Sequence[str],
    spec: LoadSpec,
    *,
    on_result: Callable[[RequestResult], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> tuple[list[RequestResult], float]:
    """Send `spec.num_requests` requests (prompts cycled); returns (results, duration_s)."""
    if (spec.rate is None) == (spec.concurrency is None):
        raise ValueError("give exactly one of rate or concurrency")
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    timeout = httpx.Timeout(spec.timeout_s, connect=10.0)
    results: list[RequestResult] = []
    t0 = time.perf_counter()

    async def one(client: httpx.AsyncClient, i: int) -> None:
        r = await send_request(
            client,
            base_url,
            model=model,
            prompt=prompts[i % len(prompts)],
            max_tokens=spec.max_tokens,
            api=spec.api,
            ignore_eos=spec.ignore_eos,
            t0=t0,
        )
        results.append(r)
        if on_result is not None:
            on_result(r)

    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        if spec.concurrency is not None:
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(spec.num_requests):
                queue.put_nowait(i)

            async def worker() -> None:
                while not queue.empty() and not cancelled():
                    await one(client, queue.get_nowait())

            await asyncio.gather(*(worker() for _ in range(spec.concurrency)))
        else:
            rng = random.Random(spec.seed)
            gate = asyncio.Semaphore(spec.max_concurrency or spec.num_requests)
            tasks = []

            async def gated(i: int) -> None:
                async with gate:
                    await one(client, i)

            for i in range(spec.num_requests):
                if cancelled():
                    break
                tasks.append(asyncio.create_task(gated(i)))
                if spec.rate and math.isfinite(spec.rate) and i < spec.num_requests - 1:
                    await asyncio.sleep(rng.expovariate(spec.rate))
            await asyncio.gather(*tasks)
    return results, time.perf_counter() - t0


def result_dict(r: RequestResult) -> dict[str, Any]:
    data = asdict(r)
    data["tpot"] = r.tpot
    return data
