"""The baseline server's OpenAI compatibility, over plain httpx against a real child process."""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus

import httpx
import pytest

from portal.labs.llm.loadtest import LoadSpec, Slo, run_load, summarize


def _events(resp: httpx.Response) -> list:
    out = []
    for line in resp.iter_lines():
        if line.startswith("data: "):
            data = line[6:]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def test_models_lists_the_served_model(baseline_server):
    r = httpx.get(f"{baseline_server.base_url}/v1/models")
    assert r.status_code == HTTPStatus.OK
    body = r.json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["tiny"]
    assert body["data"][0]["object"] == "model"


def test_a_completion_returns_text_usage_and_the_length_finish_reason(baseline_server):
    r = httpx.post(
        f"{baseline_server.base_url}/v1/completions",
        json={
            "model": "tiny",
            "prompt": "The KV cache",
            "max_tokens": 6,
            "temperature": 0,
            "ignore_eos": True,
        },
        timeout=60,
    )
    assert r.status_code == HTTPStatus.OK
    body = r.json()
    assert body["object"] == "text_completion"
    assert body["id"].startswith("cmpl-")
    [choice] = body["choices"]
    assert choice["finish_reason"] == "length"
    assert isinstance(choice["text"], str)
    usage = body["usage"]
    assert usage["completion_tokens"] == 6
    assert usage["total_tokens"] == usage["prompt_tokens"] + 6


def test_greedy_completions_are_deterministic(baseline_server):
    body = {"model": "tiny", "prompt": "Quantization", "max_tokens": 5, "temperature": 0}
    a = httpx.post(f"{baseline_server.base_url}/v1/completions", json=body, timeout=60).json()
    b = httpx.post(f"{baseline_server.base_url}/v1/completions", json=body, timeout=60).json()
    assert a["choices"][0]["text"] == b["choices"][0]["text"]


def test_a_streamed_completion_sends_sse_chunks_usage_and_done(baseline_server):
    body = {
        "model": "tiny",
        "prompt": "vLLM",
        "max_tokens": 8,
        "temperature": 0,
        "ignore_eos": True,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream(
        "POST", f"{baseline_server.base_url}/v1/completions", json=body, timeout=60
    ) as r:
        assert r.status_code == HTTPStatus.OK
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _events(r)
    assert events[-1] == "[DONE]"
    usage = events[-2]
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 8
    finals = [e for e in events[:-2] if e["choices"][0]["finish_reason"]]
    assert [e["choices"][0]["finish_reason"] for e in finals] == ["length"]
    text = "".join(e["choices"][0]["text"] for e in events[:-2])
    plain = httpx.post(
        f"{baseline_server.base_url}/v1/completions",
        json={k: v for k, v in body.items() if k not in ("stream", "stream_options")},
        timeout=60,
    ).json()
    assert text == plain["choices"][0]["text"]


def test_a_streamed_chat_completion_starts_with_the_assistant_role(baseline_server):
    body = {
        "model": "tiny",
        "messages": [{"role": "user", "content": "什么是KV缓存？"}],
        "max_tokens": 4,
        "temperature": 0,
        "stream": True,
    }
    with httpx.stream(
        "POST", f"{baseline_server.base_url}/v1/chat/completions", json=body, timeout=60
    ) as r:
        events = _events(r)
    assert events[0]["object"] == "chat.completion.chunk"
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert events[-1] == "[DONE]"
    assert events[-2]["choices"][0]["finish_reason"] in ("length", "stop")


def test_a_chat_completion_answers_with_an_assistant_message(baseline_server):
    r = httpx.post(
        f"{baseline_server.base_url}/v1/chat/completions",
        json={
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
            ],
            "max_tokens": 3,
            "temperature": 0,
        },
        timeout=60,
    )
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["usage"]["completion_tokens"] <= 3


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        ("/v1/completions", {"prompt": "x", "max_tokens": 0}, 400, "max_tokens"),
        ("/v1/completions", {"max_tokens": 2}, 400, "prompt"),
        ("/v1/completions", {"prompt": "x", "model": "gpt-9"}, 404, "gpt-9"),
        ("/v1/completions", {"prompt": "x", "max_tokens": 4000}, 400, "context"),
        ("/v1/chat/completions", {"messages": []}, 400, "messages"),
        ("/v1/embeddings", {"input": "x"}, 404, "no route"),
    ],
)
def test_bad_requests_get_openai_style_errors(baseline_server, path, body, status, needle):
    r = httpx.post(f"{baseline_server.base_url}{path}", json=body, timeout=30)
    assert r.status_code == status
    assert needle in r.json()["error"]["message"]


def test_malformed_json_is_a_400_not_a_crash(baseline_server):
    r = httpx.post(
        f"{baseline_server.base_url}/v1/completions",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == HTTPStatus.BAD_REQUEST
    assert httpx.get(f"{baseline_server.base_url}/health").json() == {"status": "ok"}


def test_the_load_test_client_measures_the_baseline_server(baseline_server):
    spec = LoadSpec(num_requests=4, max_tokens=4, concurrency=2)
    results, duration = asyncio.run(
        run_load(baseline_server.base_url, "tiny", ["Hello", "你好"], spec)
    )
    s = summarize(results, duration, Slo())
    assert s["completed"] == 4 and s["failed"] == 0
    assert s["total_output_tokens"] == 16  # ignore_eos fixes the length
    # no continuous batching: a concurrent request's first token waits for the other's last
    assert max(r.ttft for r in results) >= 0.8 * min(r.e2e for r in results)
