"""Our baseline OpenAI-compatible server on Transformers `generate`.

`python -m portal.labs.llm.openai_server --model DIR --port P` serves
GET /v1/models, POST /v1/completions and POST /v1/chat/completions (streaming as
server-sent events when `"stream": true`) and GET /health. It deliberately has
no continuous batching: one generation runs at a time and other requests queue
behind a lock — the naive deployment that vLLM is measured against, on the same
model, prompts and load. Accepts vLLM's `ignore_eos` extension so load tests can
fix the output length.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

log = logging.getLogger("portal.labs.llm.openai_server")


class StreamOptions(BaseModel):
    include_usage: bool = False


class _Sampling(BaseModel):
    model: str | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=4096)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    seed: int | None = None
    n: int = Field(default=1, ge=1, le=1)
    ignore_eos: bool = False  # vLLM extension


class CompletionRequest(_Sampling):
    prompt: str | list[str]


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str


class ChatCompletionRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1)


class ApiError(Exception):
    def __init__(self, status: HTTPStatus, message: str, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status = status
        self.kind = kind


class Engine:
    """The model and a lock: generate() runs one request at a time."""

    def __init__(self, model_dir: str, *, served_name: str, dtype: str, device: str) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.served_name = served_name
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
        self.model = AutoModelForCausalLM.from_pretrained(
            model_dir, dtype=dtypes[dtype], device_map=device
        ).eval()
        self.max_len = int(getattr(self.model.config, "max_position_embeddings", 2048))
        self.created = int(time.time())
        self.lock = threading.Lock()

    def encode_prompt(self, req: CompletionRequest | ChatCompletionRequest) -> list[int]:
        if isinstance(req, ChatCompletionRequest):
            if not self.tokenizer.chat_template:
                raise ApiError(HTTPStatus.BAD_REQUEST, "this model has no chat template")
            messages = [m.model_dump() for m in req.messages]
            text = self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
            return self.tokenizer(text, add_special_tokens=False).input_ids
        prompt = req.prompt
        if isinstance(prompt, list):
            if len(prompt) != 1:
                raise ApiError(HTTPStatus.BAD_REQUEST, "only one prompt per request is supported")
            prompt = prompt[0]
        return self.tokenizer(prompt).input_ids

    def generate(
        self,
        prompt_ids: list[int],
        req: _Sampling,
        on_text: Any,
        default_max_tokens: int,
    ) -> tuple[int, str]:
        """Generate, calling on_text(delta) as text appears; returns (tokens, finish_reason)."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        max_tokens = req.max_completion_tokens or req.max_tokens or default_max_tokens
        if len(prompt_ids) + max_tokens > self.max_len:
            raise ApiError(
                HTTPStatus.BAD_REQUEST,
                f"prompt ({len(prompt_ids)} tokens) + max_tokens ({max_tokens}) exceeds the "
                f"model's context of {self.max_len} tokens",
            )
        stops = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
        state = _DeltaDecoder(self.tokenizer, stops, on_text)

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), state.stopped, dtype=torch.bool)

        kwargs: dict[str, Any] = {
            "max_new_tokens": max_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            "streamer": state,
            "stopping_criteria": StoppingCriteriaList([_Stop()]),
        }
        if req.ignore_eos:
            kwargs["min_new_tokens"] = max_tokens
        if req.temperature > 0:
            kwargs.update(do_sample=True, temperature=req.temperature, top_p=req.top_p)
        else:
            kwargs.update(do_sample=False)
        ids = torch.tensor([prompt_ids], device=self.device)
        with self.lock:
            if req.seed is not None:
                torch.manual_seed(req.seed)
            with torch.inference_mode():
                self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
        state.flush()
        if state.stopped:
            reason = "stop"
        elif state.count >= max_tokens:
            reason = "length"
        else:
            reason = "stop"  # end of sequence
        return state.count, reason


class _DeltaDecoder:
    """A generate() streamer that turns new token ids into text deltas.

    Decodes the whole answer so far and emits what is new, holding back an incomplete
    UTF-8 sequence (shown as U+FFFD) and any tail that could still become a stop string.
    """

    def __init__(self, tokenizer: Any, stops: list[str], on_text: Any) -> None:
        self.tokenizer = tokenizer
        self.stops = stops
        self.on_text = on_text
        self.ids: list[int] = []
        self.sent = 0
        self.text = ""
        self.count = 0
        self.stopped = False
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        if self.stopped:
            return
        token = int(value.reshape(-1)[0])
        if token == self.tokenizer.eos_token_id:
            self.count += 1
            return
        self.ids.append(token)
        self.count += 1
        self.text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        for stop in self.stops:
            at = self.text.find(stop)
            if stop and at >= 0:
                self.text = self.text[:at]
                self.stopped = True
        self._emit(final=self.stopped)

    def _emit(self, final: bool) -> None:
        ready = len(self.text)
        if not final:
            if self.text.endswith("\ufffd"):
                ready = len(self.text.rstrip("\ufffd"))
            for stop in self.stops:  # keep a possible stop-string prefix back
                for k in range(min(len(stop) - 1, ready), 0, -1):
                    if self.text[:ready].endswith(stop[:k]):
                        ready -= k
                        break
        if ready > self.sent:
            delta = self.text[self.sent : ready]
            self.sent = ready
            self.on_text(delta)

    def end(self) -> None:
        pass

    def flush(self) -> None:
        self._emit(final=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PortalBaseline/1.0"
    engine: Engine  # set on the class by serve()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    # -- plumbing --
    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: HTTPStatus, message: str, kind: str = "invalid_request_error"):
        self._send_json(
            status, {"error": {"message": message, "type": kind, "param": None, "code": status}}
        )

    def _chunk(self, payload: str) -> None:
        data = payload.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _sse(self, obj: dict[str, Any] | str) -> None:
        self._chunk(f"data: {obj if isinstance(obj, str) else json.dumps(obj)}\n\n")

    # -- routes --
    def do_GET(self) -> None:
        if self.path in ("/health", "/healthz"):
            self._send_json(HTTPStatus.OK, {"status": "ok"})
        elif self.path == "/v1/models":
            self._send_json(
                HTTPStatus.OK,
                {
                    "object": "list",
                    "data": [
                        {
                            "id": self.engine.served_name,
                            "object": "model",
                            "created": self.engine.created,
                            "owned_by": "portal",
                            "max_model_len": self.engine.max_len,
                        }
                    ],
                },
            )
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no route GET {self.path}", "not_found_error")

    def do_POST(self) -> None:
        routes = {
            "/v1/completions": CompletionRequest,
            "/v1/chat/completions": ChatCompletionRequest,
        }
        schema = routes.get(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if schema is None:
            self._error(HTTPStatus.NOT_FOUND, f"no route POST {self.path}", "not_found_error")
            return
        try:
            req = schema.model_validate_json(raw or b"{}")
            if req.model and req.model != self.engine.served_name:
                raise ApiError(
                    HTTPStatus.NOT_FOUND,
                    f"the model `{req.model}` does not exist",
                    "not_found_error",
                )
            prompt_ids = self.engine.encode_prompt(req)
            self._complete(req, prompt_ids)
        except ValidationError as exc:
            self._error(HTTPStatus.BAD_REQUEST, _validation_message(exc))
        except ApiError as exc:
            self._error(exc.status, str(exc), exc.kind)
        except (BrokenPipeError, ConnectionResetError):
            log.info("client went away")
        except Exception as exc:  # one broken request must not take the server down
            log.exception("generation failed")
            self._error(
                HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(exc).__name__}: {exc}", "server_error"
            )

    def _complete(self, req: CompletionRequest | ChatCompletionRequest, prompt_ids: list[int]):
        chat = isinstance(req, ChatCompletionRequest)
        rid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        created = int(time.time())
        obj = "chat.completion" if chat else "text_completion"
        model = self.engine.served_name
        default_max = 512 if chat else 16

        def usage(n: int) -> dict[str, int]:
            return {
                "prompt_tokens": len(prompt_ids),
                "completion_tokens": n,
                "total_tokens": len(prompt_ids) + n,
            }

        if not req.stream:
            pieces: list[str] = []
            n, reason = self.engine.generate(prompt_ids, req, pieces.append, default_max)
            text = "".join(pieces)
            choice: dict[str, Any] = {"index": 0, "finish_reason": reason, "logprobs": None}
            if chat:
                choice["message"] = {"role": "assistant", "content": text}
            else:
                choice["text"] = text
            self._send_json(
                HTTPStatus.OK,
                {
                    "id": rid,
                    "object": obj,
                    "created": created,
                    "model": model,
                    "choices": [choice],
                    "usage": usage(n),
                },
            )
            return

        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk_obj = "chat.completion.chunk" if chat else "text_completion"

        def event(delta_text: str | None, reason: str | None, first: bool = False) -> dict:
            if chat:
                delta: dict[str, Any] = {}
                if first:
                    delta["role"] = "assistant"
                if delta_text is not None:
                    delta["content"] = delta_text
                choice = {"index": 0, "delta": delta, "finish_reason": reason, "logprobs": None}
            else:
                choice = {
                    "index": 0,
                    "text": delta_text or "",
                    "finish_reason": reason,
                    "logprobs": None,
                }
            return {
                "id": rid,
                "object": chunk_obj,
                "created": created,
                "model": model,
                "choices": [choice],
            }

        if chat:
            self._sse(event("", None, first=True))
        n, reason = self.engine.generate(
            prompt_ids, req, lambda text: self._sse(event(text, None)), default_max
        )
        self._sse(event(None if chat else "", reason))
        if req.stream_options and req.stream_options.include_usage:
            self._sse(
                {
                    "id": rid,
                    "object": chunk_obj,
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage(n),
                }
            )
        self._sse("[DONE]")
        self._chunk("")  # the zero-length chunk ends the response


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "body"
    return f"{where}: {first.get('msg', 'invalid')}"


def serve(model_dir: str, *, host: str, port: int, served_name: str, dtype: str, device: str):
    engine = Engine(model_dir, served_name=served_name, dtype=dtype, device=device)
    handler = type("BoundHandler", (Handler,), {"engine": engine})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    log.warning("baseline server for %s on http://%s:%d", served_name, host, server.server_port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a Transformers model directory or hub id")
    parser.add_argument("--served-model-name", default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="bf16")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    serve(
        args.model,
        host=args.host,
        port=args.port,
        served_name=args.served_model_name or args.model,
        dtype=args.dtype,
        device=args.device,
    )


if __name__ == "__main__":
    main()
