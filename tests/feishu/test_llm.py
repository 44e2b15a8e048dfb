"""Answer generation: OpenAI-compatible server, local SmolLM2, extractive fallback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from portal.feishu import llm, services
from portal.feishu.answering import answer_question
from portal.feishu.models import Source
from portal.labs.llm import checkpoints


class _ChatServer:
    def __init__(self, reply: str | None) -> None:
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                if reply is None:
                    self.send_response(503)
                    self.end_headers()
                    return
                data = json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": reply}}]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def kb(db):  # noqa: ANN001, ANN201
    doc, _ = services.upsert_document(
        owner=None,
        source=Source.CURRICULUM,
        source_key="w8",
        title="第8周",
        content="## 量化\n本周用 GPTQ 和 AWQ 量化 SmolLM2，并比较困惑度。",
    )
    services.embed_document(doc.pk)
    return doc


def test_an_openai_compatible_server_writes_the_answer_and_citations_are_attached(kb, settings):
    server = _ChatServer("Week 8 uses GPTQ and AWQ [1].")
    try:
        settings.KB_LLM_BACKEND = "openai"
        settings.KB_LLM_URL = server.url
        settings.KB_LLM_MODEL = "smollm2"
        settings.KB_LLM_API_KEY = "sk-local"
        answer = answer_question("第8周用哪些量化方法？", user=None)
    finally:
        server.close()
    assert answer.text == "Week 8 uses GPTQ and AWQ [1]."
    assert answer.mode == "openai:smollm2"
    assert [c.title for c in answer.citations] == ["第8周"]
    sent = server.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["auth"] == "Bearer sk-local"
    assert sent["body"]["model"] == "smollm2"
    assert "GPTQ" in sent["body"]["messages"][-1]["content"]  # the passages are in the prompt


def test_a_failing_llm_server_falls_back_to_quoting_the_passages(kb, settings):
    server = _ChatServer(None)
    try:
        settings.KB_LLM_BACKEND = "openai"
        settings.KB_LLM_URL = server.url
        answer = answer_question("第8周用哪些量化方法？", user=None)
    finally:
        server.close()
    assert answer.mode == "extractive"
    assert "GPTQ" in answer.text and "[1]" in answer.text
    assert answer.citations


def test_nothing_retrieved_means_no_llm_call_and_no_invention(db, settings):
    server = _ChatServer("invented")
    try:
        settings.KB_LLM_BACKEND = "openai"
        settings.KB_LLM_URL = server.url
        answer = answer_question("量化", user=None)
    finally:
        server.close()
    assert not answer.found
    assert server.requests == []


def test_the_extractive_backend_needs_no_model(settings):
    settings.KB_LLM_BACKEND = "extractive"
    assert llm.get_llm() is None


@pytest.fixture
def fresh_local_llm():  # noqa: ANN201
    llm._smollm2.cache_clear()
    yield
    llm._smollm2.cache_clear()


def test_the_local_model_is_the_llm_labs_cached_conversion(
    kb, settings, monkeypatch, fresh_local_llm
):
    """One conversion, one cache: the answerer loads what checkpoints.ensure_smollm2 returns
    (here the lab's tiny random Llama stands in for SmolLM2, so the test is fast)."""
    calls = []

    def ensure() -> object:
        calls.append(1)
        return checkpoints.ensure_tiny_random()

    monkeypatch.setattr(checkpoints, "ensure_smollm2", ensure)
    settings.KB_LLM_BACKEND = "smollm2"
    settings.KB_LLM_MAX_TOKENS = 4
    generator = llm.get_llm()
    assert isinstance(generator, llm.SmolLM2LLM)
    assert generator.path == checkpoints.ensure_tiny_random()
    assert llm.get_llm() is generator and calls == [1]  # loaded once per process
    answer = answer_question("第8周用哪些量化方法？ GPTQ AWQ", user=None, llm=generator)
    assert answer.mode == "smollm2-135m-instruct"
    assert [c.title for c in answer.citations] == ["第8周"]


def test_without_the_smollm2_package_answers_are_extractive(
    db, settings, monkeypatch, fresh_local_llm
):
    def missing() -> None:
        raise checkpoints.ModelNotAvailable("SmolLM2 is not installed")

    monkeypatch.setattr(checkpoints, "ensure_smollm2", missing)
    settings.KB_LLM_BACKEND = "auto"
    settings.KB_LLM_URL = ""
    assert llm.get_llm() is None


@pytest.mark.slow
def test_smollm2_from_its_package_generates_an_answer_with_citations(kb, settings, fresh_local_llm):
    """Converted once (~35 s) into the LLM lab's cache; later runs load in about a second."""
    settings.KB_LLM_BACKEND = "smollm2"
    settings.KB_LLM_MAX_TOKENS = 24
    generator = llm.get_llm()
    assert isinstance(generator, llm.SmolLM2LLM)
    assert generator.path == checkpoints.ensure_smollm2()
    assert (generator.path / "config.json").exists()
    answer = answer_question("第8周用哪些量化方法？ GPTQ AWQ", user=None, llm=generator)
    assert answer.mode == "smollm2-135m-instruct"
    assert answer.text.strip()
    assert [c.title for c in answer.citations] == ["第8周"]


@pytest.mark.slow
def test_a_serving_lab_server_plugs_in_through_kb_llm_url_alone(kb, settings, tmp_path):
    """The LLM serving lab's `transformers serve` (started as its runs start it), kept up
    by hand: KB_LLM_URL is all the answerer needs; the model name comes from /v1/models
    (transformers serve lists, and answers to, the model directory it was started with)."""
    from portal.labs.llm.servers import transformers_server

    model_dir = str(checkpoints.ensure_tiny_random())
    server = transformers_server(model_dir, log_path=tmp_path / "server.log", dtype="fp32")
    with server:
        server.wait_ready(timeout_s=120)
        settings.KB_LLM_BACKEND = "auto"
        settings.KB_LLM_URL = f"{server.base_url}/v1"
        settings.KB_LLM_MODEL = ""
        settings.KB_LLM_MAX_TOKENS = 8
        answer = answer_question("第8周用哪些量化方法？ GPTQ AWQ", user=None)
    assert answer.mode == f"openai:{model_dir}", server.log_tail()
    assert answer.text.strip()
    assert [c.title for c in answer.citations] == ["第8周"]


def test_a_server_without_a_model_list_gets_the_default_model_name(kb, settings):
    server = _ChatServer("GPTQ [1].")  # answers POST only: GET /v1/models fails
    try:
        settings.KB_LLM_BACKEND = "openai"
        settings.KB_LLM_URL = server.url
        settings.KB_LLM_MODEL = ""
        answer = answer_question("第8周用哪些量化方法？", user=None)
    finally:
        server.close()
    assert answer.text == "GPTQ [1]."
    assert server.requests[0]["body"]["model"] == "default"


def test_a_model_deployed_by_the_llm_lab_answers_before_the_local_fallback(
    kb, settings, monkeypatch
):
    from datetime import UTC, datetime

    from portal.labs.llm import deploy

    server = _ChatServer("Deployed model says GPTQ [1].")
    deployment = deploy.Deployment(
        run_id=7,
        base_url=server.url,
        model="smollm2-deployed",
        server="transformers",
        since=datetime.now(UTC),
    )
    monkeypatch.setattr(deploy, "active_deployment", lambda **kwargs: deployment)
    try:
        settings.KB_LLM_BACKEND = "auto"
        settings.KB_LLM_URL = ""
        answer = answer_question("第8周用哪些量化方法？", user=None)
    finally:
        server.close()
    assert answer.text == "Deployed model says GPTQ [1]."
    assert server.requests[0]["body"]["model"] == "smollm2-deployed"
