"""The labs' shipped data: an evaluation text for perplexity/KL and a prompt set for load tests.

The prompt set (`data/prompts.jsonl`) is generated from templates and the study plan's
topics by `python -m portal.labs.llm.datasets` — deterministic, so re-running it
reproduces the committed file byte for byte.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
PROMPTS_FILE = DATA_DIR / "prompts.jsonl"
EVAL_FILE = DATA_DIR / "eval.txt"


@dataclass(frozen=True)
class Prompt:
    id: str
    lang: str  # "en" | "zh"
    length: str  # "short" | "medium" | "long"
    topic: str
    prompt: str


@cache
def eval_text() -> str:
    return EVAL_FILE.read_text(encoding="utf-8")


@cache
def load_prompts() -> tuple[Prompt, ...]:
    with PROMPTS_FILE.open(encoding="utf-8") as fh:
        return tuple(Prompt(**json.loads(line)) for line in fh if line.strip())


def select_prompts(
    *, count: int, lang: str = "mixed", seed: int = 0, lengths: tuple[str, ...] = ()
) -> list[Prompt]:
    """`count` prompts (cycling if more are asked for than exist), shuffled by `seed`."""
    pool = [
        p
        for p in load_prompts()
        if (lang == "mixed" or p.lang == lang) and (not lengths or p.length in lengths)
    ]
    if not pool:
        raise ValueError(f"no prompts for lang={lang!r} lengths={lengths!r}")
    rng = random.Random(seed)
    rng.shuffle(pool)
    return [pool[i % len(pool)] for i in range(count)]


# --- generation -------------------------------------------------------------------------------

# (English, Chinese) names of topics from the study plan.
TOPICS: list[tuple[str, str]] = [
    ("the Transformer architecture", "Transformer架构"),
    ("self-attention", "自注意力机制"),
    ("FlashAttention", "Flash Attention"),
    ("PagedAttention in vLLM", "vLLM中的PagedAttention"),
    ("continuous batching", "连续批处理"),
    ("speculative decoding", "投机解码"),
    ("INT8 quantization", "INT8量化"),
    ("GPTQ", "GPTQ量化"),
    ("AWQ", "AWQ量化"),
    ("the KV cache", "KV缓存"),
    ("GPU memory hierarchy", "GPU内存层次结构"),
    ("CUDA thread blocks and warps", "CUDA线程块与warp"),
    ("writing a custom CUDA kernel", "编写自定义CUDA kernel"),
    ("the Google TPU systolic array", "Google TPU的脉动阵列"),
    ("roofline analysis", "Roofline模型分析"),
    ("operator fusion", "算子融合"),
    ("PyTorch custom operators", "PyTorch自定义算子"),
    ("exporting a model to ONNX", "导出ONNX模型"),
    ("profiling a training job", "性能分析（profiling）"),
    ("mixed-precision training", "混合精度训练"),
    ("serving an LLM behind an API", "大模型API服务部署"),
    ("load testing an inference server", "推理服务压力测试"),
    ("a Feishu chatbot", "飞书机器人"),
    ("an AI agent sandbox", "AI Agent沙箱"),
    ("Docker deployment", "Docker部署"),
    ("the AI chip software ecosystem", "AI芯片软件生态"),
]

_EN_SHORT = [
    "What is {t}?",
    "Explain {t} in one sentence.",
    "Give one reason why {t} matters for inference speed.",
    "Name a common mistake people make with {t}.",
]
_ZH_SHORT = [
    "什么是{t}？",
    "用一句话解释{t}。",
    "{t}为什么对推理速度很重要？",
    "使用{t}时常见的错误是什么？",
]
_EN_MEDIUM = [
    "I am preparing for an interview as an AI chip application developer. Explain {t} "
    "to me as if I were a software engineer who knows Python but not hardware, and give "
    "a concrete example.",
    "Compare {t} with the simplest alternative you can think of. List two advantages, "
    "two disadvantages, and the situation in which you would choose each.",
    "Write a short study note on {t}: the key idea, the numbers worth remembering, and "
    "one question an interviewer might ask about it.",
]
_ZH_MEDIUM = [
    "我正在准备AI芯片应用开发岗位的面试。请像对一个懂Python但不懂硬件的软件工程师那样解释{t}，并给出一个具体例子。",
    "请把{t}与最简单的替代方案进行比较：列出两个优点、两个缺点，以及分别适合的使用场景。",
    "请为{t}写一份简短的学习笔记：核心思想、值得记住的数字，以及面试官可能会问的一个问题。",
]
_EN_LONG = [
    "Here is some background from my notes:\n\n{ctx}\n\nUsing this background and what "
    "you know about {t}, write a structured explanation with an introduction, three key "
    "points and a conclusion. Mention at least one measurement I could run on my own "
    "machine to check the claims, and say what result I should expect.",
    "Read the following passage carefully:\n\n{ctx}\n\nNow answer: how does {t} relate to "
    "the ideas in the passage? Give a step-by-step argument, point out any assumption "
    "the passage makes, and suggest a small experiment that would test it.",
]
_ZH_LONG = [
    "以下是我的学习笔记中的背景材料：\n\n{ctx}\n\n请结合这些材料和你对{t}的了解，写一篇结构清晰的说明："
    "包括引言、三个要点和结论。请至少提到一个我可以在自己机器上运行的测量实验，并说明预期结果。",
    "请仔细阅读下面这段话：\n\n{ctx}\n\n然后回答：{t}与这段话中的观点有什么关系？请逐步论证，"
    "指出这段话隐含的假设，并建议一个可以验证它的小实验。",
]
_ZH_CONTEXT = [
    "大模型训练一次，却要被调用成千上万次，因此推理成本很快超过训练成本。一个70亿参数的模型用16位浮点存储，"
    "仅权重就需要约14GB显存。解码阶段每生成一个token都要读取全部权重，所以它通常受限于内存带宽而不是算力。",
    "量化把每个线性层的权重从16位浮点数压缩为8位或4位整数，并配以少量缩放因子。8位权重把访存量减半，"
    "4位权重大约减少到四分之一。代价是精度：少数通道的激活值远大于其他通道，简单的按张量量化会浪费大部分表示范围。",
    "简单的服务一次只处理一个请求，其他请求在队列中等待。vLLM使用连续批处理，在每一步把新请求加入正在运行的批次，"
    "并用PagedAttention把KV缓存分成固定大小的块，像虚拟内存的分页一样，减少显存碎片。",
]


def _paragraphs() -> list[str]:
    return [p.strip() for p in eval_text().split("\n\n") if p.strip()]


def generate_prompts(count_per_cell: int = 26) -> list[Prompt]:
    """All (language, length) cells, `count_per_cell` prompts each, deterministic."""
    rng = random.Random(8)
    en_ctx = _paragraphs()
    cells = {
        ("en", "short"): _EN_SHORT,
        ("zh", "short"): _ZH_SHORT,
        ("en", "medium"): _EN_MEDIUM,
        ("zh", "medium"): _ZH_MEDIUM,
        ("en", "long"): _EN_LONG,
        ("zh", "long"): _ZH_LONG,
    }
    prompts: list[Prompt] = []
    for (lang, length), templates in cells.items():
        pairs = [(topic, tpl) for topic in TOPICS for tpl in templates]
        rng.shuffle(pairs)
        for i, ((en, zh), tpl) in enumerate(pairs[:count_per_cell]):
            ctx = ""
            if length == "long":
                source = en_ctx if lang == "en" else _ZH_CONTEXT
                ctx = source[rng.randrange(len(source))]
            text = tpl.format(t=en if lang == "en" else zh, ctx=ctx)
            prompts.append(Prompt(f"{lang}-{length}-{i:03d}", lang, length, en, text))
    return prompts


def write_prompts(path: Path = PROMPTS_FILE, count_per_cell: int = 50) -> int:
    prompts = generate_prompts(count_per_cell)
    with path.open("w", encoding="utf-8") as fh:
        for p in prompts:
            fh.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")
    return len(prompts)


if __name__ == "__main__":
    print(f"wrote {write_prompts()} prompts to {PROMPTS_FILE}")
