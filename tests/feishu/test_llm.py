"""Answer generation: OpenAI-compatible server, local SmolLM2, extractive fallback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from portal.feishu import llm, services
from portal.feishu.answering import answer_question
from portal.feishu.models import Source


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


@pytest.mark.slow
def test_smollm2_from_its_package_generates_an_answer_with_citations(kb, settings):
    """Converts the GGUF once (~35 s) into the data dir; later runs load in about a second."""
    settings.KB_LLM_BACKEND = "smollm2"
    settings.KB_LLM_MAX_TOKENS = 24
    generator = llm.get_llm()
    assert isinstance(generator, llm.SmolLM2LLM)
    assert (llm.smollm2_model_dir() / "config.json").exists()
    answer = answer_question("第8周用哪些量化方法？ GPTQ AWQ", user=None, llm=generator)
    assert answer.mode == "smollm2-135m-instruct"
    assert answer.text.strip()
    assert [c.title for c in answer.citations] == ["第8周"]
