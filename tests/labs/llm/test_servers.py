"""`transformers serve` as the lab starts it: offline, pinned to the model directory,
stopped with its whole process group; a cancelled serving run leaves nothing running."""

from __future__ import annotations

import os
import threading

import httpx
import pytest

from portal.core.processes import live_in_group, process_table
from portal.labs.context import RunCancelled
from portal.labs.llm.servers import ServerKind, transformers_server
from portal.labs.registry import get_lab
from tests.labs.conftest import wait_for
from tests.labs.llm.test_deploy import CancellableContext

pytestmark = pytest.mark.slow


def our_transformers_servers() -> list[dict]:
    return [
        p
        for p in process_table()
        if p["ppid"] == os.getpid()
        and "transformers.cli.transformers serve" in p["cmd"]
        and p["state"] != "Z"
    ]


def test_transformers_serve_is_pinned_to_the_model_directory_and_stops_with_its_group(
    tiny_model_dir, tmp_path
):
    server = transformers_server(
        str(tiny_model_dir), log_path=tmp_path / "server.log", continuous_batching=False
    )
    assert server.kind == ServerKind.TRANSFORMERS and server.env["HF_HUB_OFFLINE"] == "1"
    with server:
        server.wait_ready(timeout_s=120)
        pgrp = os.getpgid(server.pid)
        assert pgrp == server.pid  # its own process group, so stop() reaches every child
        models = httpx.get(f"{server.base_url}/v1/models", timeout=10).json()["data"]
        assert [m["id"] for m in models] == [str(tiny_model_dir)] == [server.served_name]
        # the Feishu/knowledge answerer's request: model from /v1/models, no streaming
        reply = httpx.post(
            f"{server.base_url}/v1/chat/completions",
            json={
                "model": models[0]["id"],
                "messages": [{"role": "user", "content": "What is a systolic array?"}],
                "max_tokens": 4,
                "temperature": 0.2,
            },
            timeout=60,
        )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["choices"][0]["message"]["role"] == "assistant"
        assert 0 < body["usage"]["completion_tokens"] <= 4
        # what the load-test client must not send it, and a name it does not serve
        fixed = {"model": models[0]["id"], "prompt": "hi", "max_tokens": 2, "ignore_eos": True}
        refused = httpx.post(f"{server.base_url}/v1/completions", json=fixed, timeout=30)
        assert refused.status_code == 422 and "ignore_eos" in refused.text
        other = httpx.post(
            f"{server.base_url}/v1/completions",
            json={"model": "smollm2", "prompt": "hi", "max_tokens": 2},
            timeout=30,
        )
        assert other.status_code == 400 and "pinned" in other.text
    assert live_in_group(pgrp) == []
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{server.base_url}/v1/models", timeout=2)


def test_cancelling_a_serving_run_stops_its_server_and_leaves_nothing_running(
    monkeypatch, tmp_path
):
    monkeypatch.setenv("VLLM_PYTHON", str(tmp_path / "nowhere" / "python"))
    lab = get_lab("llm-serving")
    params = lab.validate(
        {
            "model": "tiny-random",
            "servers": ["transformers-cb"],
            "dtypes": ["fp32"],
            "levels": [1],
            "num_requests": 200,  # far more than the test waits for
            "max_tokens": 8,
            "prompt_lengths": ["short"],
        }
    )
    ctx = CancellableContext()
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["result"] = lab.run(params, ctx)
        except BaseException as exc:  # noqa: BLE001 - checked below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="serving", daemon=True)
    thread.start()
    try:
        # under load: the server is up and answering the level's requests
        wait_for(
            lambda: ctx.series("ttft_ms/transformers-cb/fp32/1"), timeout=120, what="a request"
        )
        [server] = our_transformers_servers()
        assert "--continuous-batching" in server["cmd"]
    finally:
        ctx.cancel.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), RunCancelled), outcome
    assert live_in_group(server["pgrp"]) == []
    assert our_transformers_servers() == []
