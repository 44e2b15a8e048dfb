"""Generation only when configured, self-tested, in a language the model handles, and
supported sentence by sentence; otherwise the answer quotes."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from portal.knowledge import llm, services
from portal.knowledge.answering import answer_question
from portal.knowledge.models import Source
from portal.knowledge.verify import unsupported_sentences
from portal.labs.llm import checkpoints


def honest(answer: str) -> Callable[[str], str]:
    """A model that passes the self-test (it copies the passage's facts) and says `answer`."""

    def reply(prompt: str) -> str:
        if "INT8 quantization saves 46%" in prompt:
            return "INT8 quantization saves 46% of GPU memory."
        if "Stable-Baselines3" in prompt:
            return "The Agent Sandbox uses Stable-Baselines3."
        return answer

    return reply


class _ChatServer:
    def __init__(self, reply: Callable[[str], str] | None) -> None:
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
                prompt = body["messages"][-1]["content"]
                data = json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": reply(prompt)}}]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def questions(self) -> list[str]:
        """The real questions sent (the self-test's are left out)."""
        return [
            r["body"]["messages"][-1]["content"]
            for r in self.requests
            if "Question: " in r["body"]["messages"][-1]["content"]
            and not any(q in r["body"]["messages"][-1]["content"] for q, _p, _f in llm.SELF_TEST)
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def fresh_self_tests():  # noqa: ANN201
    llm._verified.clear()
    yield
    llm._verified.clear()


@pytest.fixture
def kb(db):  # noqa: ANN001, ANN201
    doc, _ = services.upsert_document(
        owner=None,
        source=Source.CURRICULUM,
        source_key="w8",
        title="Week 8",
        content="## Quantization\nWeek 8 quantizes SmolLM2 with GPTQ and AWQ and compares perplexity.",
    )
    services.embed_document(doc.pk)
    return doc


QUESTION = "Which quantization methods does week 8 use?"


def _serve(settings, server: _ChatServer, model: str = "smollm2") -> None:  # noqa: ANN001
    settings.KB_LLM_BACKEND = "openai"
    settings.KB_LLM_URL = server.url
    settings.KB_LLM_MODEL = model
    settings.KB_LLM_API_KEY = "sk-local"
    settings.KB_LLM_LANGUAGES = "en"


def test_a_self_tested_server_writes_a_supported_answer_and_the_system_attaches_citations(
    kb, settings
):
    server = _ChatServer(honest("Week 8 quantizes SmolLM2 with GPTQ and AWQ."))
    try:
        _serve(settings, server)
        answer = answer_question(QUESTION, user=None)
    finally:
        server.close()
    assert answer.mode == "openai:smollm2"
    assert answer.text == "Week 8 quantizes SmolLM2 with GPTQ and AWQ. [1]"
    assert [c.title for c in answer.citations] == ["Week 8"]
    assert len(server.questions()) == 1
    assert "GPTQ" in server.questions()[0]  # the passages are in the prompt
    assert server.requests[0]["auth"] == "Bearer sk-local"


def test_an_answer_with_one_unsupported_sentence_falls_back_to_quotes(kb, settings):
    server = _ChatServer(honest("Week 8 uses GPTQ and AWQ. It needs 3 GPUs and INT4 kernels."))
    try:
        _serve(settings, server)
        answer = answer_question(QUESTION, user=None)
    finally:
        server.close()
    assert answer.mode == "quote"
    assert "3 GPUs" not in answer.text
    assert answer.text.startswith("> ") and "GPTQ" in answer.text and "[1]" in answer.text


def test_a_model_that_fails_its_self_test_never_answers(kb, settings):
    server = _ChatServer(lambda prompt: "The answer is: 20/3 = 6 hours.")
    try:
        _serve(settings, server)
        assert llm.get_verified_llm() is None
        answer = answer_question(QUESTION, user=None)
    finally:
        server.close()
    assert answer.mode == "quote"
    assert server.questions() == []
    assert len(server.requests) == 1  # the first self-test question, once per process


def test_a_chinese_question_never_reaches_an_english_only_model(kb, settings):
    server = _ChatServer(honest("Week 8 quantizes SmolLM2 with GPTQ and AWQ."))
    try:
        _serve(settings, server)
        answer = answer_question("第8周用 GPTQ 还是 AWQ 量化？", user=None)
    finally:
        server.close()
    assert answer.mode == "quote"
    assert server.requests == []  # not even the self-test


def test_a_failing_llm_server_falls_back_to_quoting_the_passages(kb, settings):
    server = _ChatServer(None)
    try:
        _serve(settings, server)
        answer = answer_question(QUESTION, user=None)
    finally:
        server.close()
    assert answer.mode == "quote"
    assert "GPTQ" in answer.text and "[1]" in answer.text
    assert answer.citations


def test_nothing_retrieved_means_no_llm_call_and_no_invention(db, settings):
    server = _ChatServer(honest("invented"))
    try:
        _serve(settings, server)
        answer = answer_question("What is quantization?", user=None)
    finally:
        server.close()
    assert not answer.found and answer.citations == []
    assert server.questions() == []


def test_without_configuration_there_is_no_model(settings):
    settings.KB_LLM_BACKEND = ""
    settings.KB_LLM_URL = ""
    assert llm.get_llm() is None
    settings.KB_LLM_BACKEND = "extractive"
    assert llm.get_llm() is None


@pytest.fixture
def fresh_local_llm():  # noqa: ANN201
    llm._smollm2.cache_clear()
    yield
    llm._smollm2.cache_clear()


def test_the_local_model_is_the_llm_labs_cached_conversion_and_its_noise_is_refused(
    kb, settings, monkeypatch, fresh_local_llm
):
    """One conversion, one cache: the answerer loads what checkpoints.ensure_smollm2 returns.
    Here the lab's tiny random Llama stands in for SmolLM2: what it writes is noise, and
    the answer quotes instead."""
    calls = []

    def ensure() -> object:
        calls.append(1)
        return checkpoints.ensure_tiny_random()

    monkeypatch.setattr(checkpoints, "ensure_smollm2", ensure)
    settings.KB_LLM_BACKEND = "smollm2"
    settings.KB_LLM_MAX_TOKENS = 8
    generator = llm.get_llm()
    assert isinstance(generator, llm.SmolLM2LLM)
    assert generator.path == checkpoints.ensure_tiny_random()
    assert llm.get_llm() is generator and calls == [1]  # loaded once per process
    assert llm.get_verified_llm() is None  # noise does not pass the self-test
    answer = answer_question(QUESTION, user=None, llm=generator)
    assert answer.mode == "quote"
    assert [c.title for c in answer.citations] == ["Week 8"]


def test_without_the_smollm2_package_answers_quote(db, settings, monkeypatch, fresh_local_llm):
    def missing() -> None:
        raise checkpoints.ModelNotAvailable("SmolLM2 is not installed")

    monkeypatch.setattr(checkpoints, "ensure_smollm2", missing)
    settings.KB_LLM_BACKEND = "smollm2"
    settings.KB_LLM_URL = ""
    assert llm.get_llm() is None


@pytest.mark.slow
def test_smollm2_from_its_package_either_passes_its_self_test_or_is_never_used(
    kb, settings, fresh_local_llm
):
    """Converted once (~35 s) into the LLM lab's cache; later runs load in about a second."""
    settings.KB_LLM_BACKEND = "smollm2"
    settings.KB_LLM_MAX_TOKENS = 48
    generator = llm.get_llm()
    assert isinstance(generator, llm.SmolLM2LLM)
    assert (generator.path / "config.json").exists()
    answer = answer_question(QUESTION, user=None)
    passages = [f"{c.title}\n{kb.content}" for c in answer.citations]
    assert answer.mode in {"quote", "smollm2-135m-instruct"}
    assert (answer.mode == "smollm2-135m-instruct") == (llm._verified[generator.name])
    body = answer.text.rsplit(" [", 1)[0] if answer.mode != "quote" else ""
    assert unsupported_sentences(body, passages) == []
    assert [c.title for c in answer.citations] == ["Week 8"]


@pytest.mark.slow
def test_a_serving_lab_server_plugs_in_through_kb_llm_url_alone(kb, settings, tmp_path):
    """The LLM serving lab's `transformers serve` (started as its runs start it), kept up by hand: KB_LLM_URL is all the
    answerer needs; the model name comes from /v1/models. Its tiny random model fails the
    self-test, so the answer quotes."""
    from portal.labs.llm.servers import transformers_server

    model_dir = str(checkpoints.ensure_tiny_random())
    # transformers serve lists, and answers to, the model directory it was started with
    server = transformers_server(model_dir, log_path=tmp_path / "server.log", dtype="fp32")
    with server:
        server.wait_ready(timeout_s=120)
        settings.KB_LLM_BACKEND = "auto"
        settings.KB_LLM_URL = f"{server.base_url}/v1"
        settings.KB_LLM_MODEL = ""
        settings.KB_LLM_MAX_TOKENS = 8
        generator = llm.get_llm()
        answer = answer_question(QUESTION, user=None)
    assert generator is not None and generator.name == f"openai:{model_dir}", server.log_tail()
    assert llm._verified == {f"openai:{model_dir}": False}
    assert answer.mode == "quote"
    assert [c.title for c in answer.citations] == ["Week 8"]


def test_a_server_without_a_model_list_gets_the_default_model_name(kb, settings):
    server = _ChatServer(honest("Week 8 uses GPTQ."))  # answers POST only: GET /v1/models fails
    try:
        _serve(settings, server, model="")
        answer = answer_question(QUESTION, user=None)
    finally:
        server.close()
    assert answer.text == "Week 8 uses GPTQ. [1]"
    assert server.requests[0]["body"]["model"] == "default"


def test_a_model_deployed_by_the_llm_lab_answers_before_the_local_fallback(
    kb, settings, monkeypatch
):
    from datetime import UTC, datetime

    from portal.labs.llm import deploy

    server = _ChatServer(honest("Week 8 compares perplexity."))
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
        answer = answer_question(QUESTION, user=None)
    finally:
        server.close()
    assert answer.text == "Week 8 compares perplexity. [1]"
    assert server.requests[0]["body"]["model"] == "smollm2-deployed"
