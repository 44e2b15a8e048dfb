"""Answer generation behind one interface: an OpenAI-compatible server, a local
SmolLM2 through Transformers, or none (the caller then answers extractively)."""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import Protocol, TypedDict

import httpx

from portal.feishu import conf

log = logging.getLogger(__name__)


class ChatMessage(TypedDict):
    role: str
    content: str


class LLM(Protocol):
    name: str

    def generate(self, messages: list[ChatMessage], *, max_tokens: int = 256) -> str: ...


class LLMUnavailable(RuntimeError):
    pass


class OpenAICompatibleLLM:
    """`POST {base}/chat/completions` (vLLM, llama.cpp server, any OpenAI-compatible URL)."""

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout: float = 60) -> None:
        self.name = f"openai:{model}"
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = timeout

    def generate(self, messages: list[ChatMessage], *, max_tokens: int = 256) -> str:
        try:
            resp = httpx.post(
                self._url,
                json={
                    "model": self._model,
                    "messages": messages,
                    "max_tokens": max_tokens,
                    "temperature": 0.2,
                },
                headers=self._headers,
                timeout=self._timeout,
            )
            resp.raise_for_status()
            return str(resp.json()["choices"][0]["message"]["content"]).strip()
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
            raise LLMUnavailable(f"{self._url}: {exc}") from exc


class SmolLM2LLM:
    name = "smollm2-135m-instruct"

    def __init__(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from portal.labs.llm.checkpoints import ensure_smollm2

        # The LLM lab's cached fp32 conversion of the GGUF: one conversion, one cache.
        path = ensure_smollm2()
        self.path = path
        torch.set_num_threads(conf.llm_threads())
        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(path)
        self._model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        self._lock = threading.Lock()

    def generate(self, messages: list[ChatMessage], *, max_tokens: int = 256) -> str:
        inputs = self._tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with self._lock, self._torch.inference_mode():
            out = self._model.generate(
                **inputs,
                max_new_tokens=max_tokens,
                do_sample=False,
                repetition_penalty=1.1,
                pad_token_id=self._tokenizer.eos_token_id,
            )
        new_tokens = out[0, inputs["input_ids"].shape[1] :]
        return self._tokenizer.decode(new_tokens, skip_special_tokens=True).strip()


@lru_cache(maxsize=1)
def _smollm2() -> SmolLM2LLM:
    return SmolLM2LLM()


def get_llm() -> LLM | None:
    """The configured generator, or None for extractive answers (`KB_LLM_BACKEND`)."""
    backend = conf.llm_backend()
    if backend == "extractive":
        return None
    if backend in {"openai", "auto"} and conf.llm_url():
        return OpenAICompatibleLLM(
            conf.llm_url(), conf.llm_model(), conf.llm_api_key(), conf.llm_timeout_s()
        )
    if backend == "openai":
        log.warning("KB_LLM_BACKEND=openai but KB_LLM_URL is empty; answering extractively")
        return None
    try:
        return _smollm2()
    except Exception as exc:  # a missing package or a failed conversion must not break answers
        log.warning("local LLM unavailable, answering extractively: %s", exc)
        return None
