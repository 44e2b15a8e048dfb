"""Answer generation behind one interface: an OpenAI-compatible server (KB_LLM_URL or an
`llm-deploy` run), a local SmolLM2 through Transformers, or none (the caller quotes).

A generator is used only after it passed `self_test()` on known plan questions (once
per process), and only for questions in a language it handles (KB_LLM_LANGUAGES).
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import Any, Protocol, TypedDict

import httpx

from portal.knowledge import conf

log = logging.getLogger(__name__)


class ChatMessage(TypedDict):
    role: str
    content: str


class LLM(Protocol):
    name: str

    def generate(self, messages: list[ChatMessage], *, max_tokens: int = 256) -> str: ...


class LLMUnavailable(RuntimeError):
    pass


# base URL -> the model its GET /models listed first (so KB_LLM_MODEL may stay empty)
_served_models: dict[str, str] = {}
_served_lock = threading.Lock()


class OpenAICompatibleLLM:
    """`POST {base}/chat/completions` (vLLM, the serving lab's server, any OpenAI-compatible URL).

    Without a model name, the server's first listed model is used (`GET {base}/models`,
    asked once per base URL; asked again after the server refused the name).
    """

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout: float = 60) -> None:
        self._base = base_url.rstrip("/")
        self._model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = timeout

    @property
    def name(self) -> str:
        return f"openai:{self._model or _served_models.get(self._base, '?')}"

    def model(self) -> str:
        if self._model:
            return self._model
        with _served_lock:
            if self._base not in _served_models:
                try:
                    resp = httpx.get(
                        f"{self._base}/models", headers=self._headers, timeout=self._timeout
                    )
                    resp.raise_for_status()
                    _served_models[self._base] = str(resp.json()["data"][0]["id"])
                except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
                    log.info("%s/models unavailable (%s); sending model 'default'", self._base, exc)
                    return "default"
            return _served_models[self._base]

    def generate(self, messages: list[ChatMessage], *, max_tokens: int = 256) -> str:
        url = f"{self._base}/chat/completions"
        try:
            resp = httpx.post(
                url,
                json={
                    "model": self.model(),
                    "messages": messages,
                    "max_tokens": max_tokens,
                    "temperature": 0.2,
                },
                headers=self._headers,
                timeout=self._timeout,
            )
            # redeployed with another model: vLLM answers 404 for an unknown name,
            # `transformers serve` (pinned to its model) 400
            if resp.status_code in (400, 404) and not self._model:
                _served_models.pop(self._base, None)
            resp.raise_for_status()
            return str(resp.json()["choices"][0]["message"]["content"]).strip()
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
            raise LLMUnavailable(f"{url}: {exc}") from exc


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


def get_llm(*, user: Any = None) -> LLM | None:
    """The configured generator for `user`'s questions, or None for quoted answers
    (`KB_LLM_BACKEND`); not yet self-tested. Only `user`'s own or a staff-shared
    `llm-deploy` server is used."""
    backend = conf.llm_backend()
    if backend == "extractive":
        return None
    if backend in {"openai", "auto"} and conf.llm_url():
        return OpenAICompatibleLLM(
            conf.llm_url(), conf.llm_model(), conf.llm_api_key(), conf.llm_timeout_s()
        )
    if backend == "openai":
        log.warning("KB_LLM_BACKEND=openai but KB_LLM_URL is empty; quoting instead")
        return None
    if backend == "smollm2":
        try:
            return _smollm2()
        except Exception as exc:  # a missing package or a failed conversion must not break answers
            log.warning("local LLM unavailable, quoting instead: %s", exc)
            return None
    from portal.labs.llm.deploy import active_deployment

    # A model kept up by the LLM lab's `llm-deploy` run comes before the small local fallback.
    deployment = active_deployment(user=user, check=True)
    if deployment is not None:
        return OpenAICompatibleLLM(
            deployment.base_url, deployment.model, timeout=conf.llm_timeout_s()
        )
    try:
        return _smollm2()
    except Exception as exc:  # a missing package or a failed conversion must not break answers
        log.warning("local LLM unavailable, answering extractively: %s", exc)
        return None


# Known plan questions, their passage and the fact the answer must carry (English: the
# one language every configured model is asked to handle).
SELF_TEST = [
    (
        "How much GPU memory does INT8 quantization save in Demo 1?",
        "Demo 1 quantizes ChatGLM-6B. INT8 quantization saves 46% of GPU memory. "
        "vLLM gives a 3x throughput improvement.",
        "46%",
    ),
    (
        "Which RL framework does the Agent Sandbox use?",
        "The Agent Sandbox tech stack: RL framework Stable-Baselines3, deep learning PyTorch 2.0+, "
        "hardware monitoring pynvml, configuration Hydra.",
        "Stable-Baselines3",
    ),
]


def self_test(generator: LLM) -> bool:
    """True when `generator` answers every SELF_TEST question with its fact, every sentence
    supported by the passage (the same check every real answer goes through)."""
    from portal.knowledge.verify import supported

    for question, passage, fact in SELF_TEST:
        messages: list[ChatMessage] = [
            {
                "role": "system",
                "content": "Answer ONLY from the passage, in one short sentence, "
                "copying numbers and names exactly.",
            },
            {"role": "user", "content": f"Passage:\n{passage}\n\nQuestion: {question}"},
        ]
        try:
            text = generator.generate(messages, max_tokens=64)
        except LLMUnavailable as exc:
            log.warning("LLM self-test: %s unavailable: %s", generator.name, exc)
            return False
        if fact.lower() not in text.lower() or not supported(text, [passage]):
            log.warning("LLM self-test failed for %s: %r -> %r", generator.name, question, text)
            return False
    return True


# generator name -> passed; tested once per process.
_verified: dict[str, bool] = {}
_verified_lock = threading.Lock()


def get_verified_llm(*, user: Any = None) -> LLM | None:
    """The configured generator for `user` if it passed its self-test in this process, else None."""
    generator = get_llm(user=user)
    if generator is None:
        return None
    with _verified_lock:
        if generator.name not in _verified:
            _verified[generator.name] = self_test(generator)
            log.info("LLM %s self-test: %s", generator.name, _verified[generator.name])
        return generator if _verified[generator.name] else None
