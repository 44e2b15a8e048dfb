"""What a question names: a week, a phase, a core paper, the time split, the FAQ.

`focus_of()` turns 第十周 / week 10 / W10, 第三阶段 / 大模型阶段, an arXiv id or a
paper's short name (FlashAttention, PagedAttention, vLLM, GPTQ) into a `Focus`;
retrieval then searches only the chunks carrying that metadata (Chunk.week,
.phase, .paper_id, .kind), so "第10周的实践项目" is answered from week 10.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from portal.knowledge import text as kbtext

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUMBER = "[零〇一二两三四五六七八九十]+"


def chinese_number(text: str) -> int | None:
    """一 → 1, 十 → 10, 十六 → 16, 二十三 → 23 (0-99; what a plan's weeks and phases need)."""
    if not text or any(ch not in _DIGITS and ch != "十" for ch in text):
        return None
    if "十" not in text:
        return int("".join(str(_DIGITS[ch]) for ch in text)) if len(text) <= 2 else None
    tens, _sep, ones = text.partition("十")
    if "十" in ones or len(tens) > 1 or len(ones) > 1:
        return None
    return (_DIGITS[tens] if tens else 1) * 10 + (_DIGITS[ones] if ones else 0)


def _number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if text.isascii():
        lowered = text.lower()
        if lowered[:-2].isdigit() and lowered[-2:] in ("st", "nd", "rd", "th"):
            return int(lowered[:-2])  # "3rd"
        return _ENGLISH_NUMBERS.get(lowered, _ENGLISH_ORDINALS.get(lowered))
    return chinese_number(text)


# "the first week", "the 10th week"
_EN_ORDINAL = (
    r"first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth"
    r"|thirteenth|fourteenth|fifteenth|sixteenth|\d{1,2}(?:st|nd|rd|th)"
)
_ENGLISH_ORDINALS = {w: i for i, w in enumerate(_EN_ORDINAL.split("|")[:16], start=1)}


# "week one", "phase three": English number words up to the plan's sixteen weeks
_EN_NUMBER = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
    r"|fifteen|sixteen"
)

# Where an English word starts and ends inside Chinese text: "这个week 7的项目", "phase1的项目".
# \b fails there, for a Chinese character is a word character too.
_LATIN_START = r"(?<![A-Za-z0-9])"
_LATIN_END = r"(?![A-Za-z0-9])"

_WEEK = [
    re.compile(rf"第\s*(\d{{1,2}}|{_CN_NUMBER})\s*周"),
    # week-1 too, and "wk 10" as typed in a chat
    re.compile(rf"{_LATIN_START}(?:week|wk)[\s#-]*(\d{{1,2}}|{_EN_NUMBER}){_LATIN_END}", re.I),
    re.compile(rf"\b({_EN_ORDINAL})\s+week\b", re.IGNORECASE),  # the first week
    re.compile(r"(?<![A-Za-z0-9])W-?(\d{1,2})(?![A-Za-z0-9])", re.IGNORECASE),  # W10, W-10
    re.compile(r"第\s*(\d{1,2})\s*w(?![A-Za-z])", re.IGNORECASE),  # 第16w, as typed on a phone
]
_PHASE = [
    re.compile(rf"第\s*(\d|{_CN_NUMBER})\s*个?\s*阶段"),  # 第三阶段, 第三个阶段
    # ph2 as typed, and "phase1的项目" (no \b between "1" and "的": both are word characters)
    re.compile(rf"{_LATIN_START}(?:phase|stage|ph)[\s#-]*(\d|{_EN_NUMBER}){_LATIN_END}", re.I),
    re.compile(rf"\b({_EN_ORDINAL})\s+(?:phase|stage)\b", re.IGNORECASE),  # the second phase
    re.compile(r"(?<![A-Za-z0-9])P(\d)(?=\s*阶段)", re.IGNORECASE),  # "p3阶段", as W10 is week 10
]
# The plan's own names for its four phases (its 16-week table): 基础, 硬件, 大模型, 应用.
PHASE_NAMES = {
    "基础阶段": 1,
    "硬件阶段": 2,
    "大模型阶段": 3,
    "应用阶段": 4,
    "foundation phase": 1,
    "hardware phase": 2,
    "llm phase": 3,
    "large model phase": 3,
    "application phase": 4,
}
# ... also with a word between ("大模型那个阶段", "硬件这个阶段", "应用的阶段").
# ... or by the timeline's full name ("大模型技术阶段", "硬件优化那个阶段")
_NAMED_PHASE = re.compile(
    r"(基础|硬件|大模型|应用)(?:强化|优化|技术|开发)?\s*(?:那个|这个|那|这|的)?\s*"
    r"(?:[（(][^）)]{0,30}[）)])?\s*阶段"
)
# ... and in English, with a hyphen or a second word ("the large-model phase", "the
# hardware optimization stage")
_NAMED_PHASE_EN = re.compile(
    r"\b(foundations?|basics?|hardware|large[\s-]?models?|llms?|applications?)"
    r"(?:[\s-](?:strengthening|optimi[sz]ation|technology|technologies|development))?"
    r"\s+(?:phase|stage)\b",
    re.IGNORECASE,
)
_EN_PHASE_NUMBERS = {"fou": 1, "bas": 1, "har": 2, "lar": 3, "llm": 3, "app": 4}
# Where a number ends: no digit follows, nor a decimal part; a full stop may ("Demo 2.").
NUMBER_ENDS = r"(?!\d|\.\d)"
_ARXIV = re.compile(rf"(?<![\d.])(\d{{4}}\.\d{{4,5}})(?:v\d+)?{NUMBER_ENDS}")
TIME_SPLIT_WORDS = (
    "时间分配",
    "时间如何分配",
    "时间占比",
    "时间比例",
    "时间比重",
    "time split",
    "split my time",
    "time allocation",
    "time budget",
    "share of time",
    "share of the time",
    "share of my time",
    "时间预算",
)
# "What percentage of the whole 16 weeks goes to projects", "what slice of the time":
# a share of the plan's time, in everyday English.
_TIME_SHARE = re.compile(
    r"\b(?:percent(?:age)?|share|slice|portion|proportion|fraction|chunk)\s+of\s+"
    r"(?:the\s+|my\s+|our\s+|their\s+|your\s+)?(?:whole\s+|total\s+|overall\s+)?"
    r"(?:time|16 weeks|sixteen weeks|schedule|hours)\b",
    re.IGNORECASE,
)
# "16周里哪部分占的时间最多", "时间花得最多的是哪块", "论文阅读占多少时间": the same, in Chinese.
_TIME_SHARE_ZH = re.compile(
    r"占(?:用|据)?(?:了|的)?(?:多少|最多|最少|最大|最小|几成|一半|百分之几)?(?:的)?时间"
    r"|时间(?:上)?(?:占|花得?最|用得?最)|花(?:费)?(?:的)?时间最(?:多|少)"
)
FAQ_WORDS = ("常见问题", "faq")


_NTH_DEMO = re.compile(rf"第\s*(\d|{_CN_NUMBER})\s*个\s*(demo|演示(?!视频))", re.IGNORECASE)
_DEMO_CN = re.compile(rf"(demo)\s*({_CN_NUMBER})(?![\u4e00-\u9fff]*[个周])", re.IGNORECASE)
# "Demo1", "day5" as the plan writes them: "Demo 1", "Day 5-7".
_GLUED_NUMBER = re.compile(r"(?<![A-Za-z])(demo|day)(?=\d)", re.IGNORECASE)
# "Days 3-4" as the plan writes them: "Day 3-4".
_DAYS = re.compile(r"(?<![A-Za-z])days(?=\s*\d)", re.IGNORECASE)
# "the first demo" → "Demo 1"
_NTH_DEMO_EN = re.compile(r"\b(first|second|third)\s+demo\b", re.IGNORECASE)
# "Demo two", "day three" as the plan writes them: "Demo 2", "Day 3".
_DEMO_EN = re.compile(r"\b(demo|day)\s+(one|two|three|four|five|six|seven)\b", re.IGNORECASE)
# "头两天", "前2天" of a week as the plan writes its days: "Day 1-2".
# 8位整数 / 8位 / 8-bit / 4 bits: the plan names integer widths as INT8, INT4
_BITS = re.compile(r"(?<![\d.第])([48])\s*(?:位整数|位|-?bits?(?![A-Za-z]))", re.IGNORECASE)
_FIRST_DAYS = re.compile(rf"(?:头|前|开头|最开始的?)\s*(\d|{_CN_NUMBER})\s*天")


def _phase_weeks(number: int) -> tuple[int, int] | None:
    """The first and last week of the curriculum's phase `number` (four weeks each when
    no curriculum is loaded)."""
    from portal.curriculum.models import Phase

    found = (
        Phase.objects.filter(archived=False, number=number)
        .values_list("first_week", "last_week")
        .first()
    )
    if found:
        return found
    if Phase.objects.filter(archived=False).exists():
        return None
    return WEEKS_PER_MONTH * (number - 1) + 1, WEEKS_PER_MONTH * number


def _last_phase() -> int:
    from django.db.models import Max

    from portal.curriculum.models import Phase

    return Phase.objects.filter(archived=False).aggregate(last=Max("number"))["last"] or 4


# Positions instead of numbers. A phase counted from the end: 最后一个阶段, 倒数第二个阶段,
# "the final phase", "the second-to-last stage".
_LAST_PHASE = re.compile(
    rf"最后(?:一个|的)?\s*阶段|倒数\s*第\s*(\d|{_CN_NUMBER})\s*个?\s*阶段"
    r"|\b(?:the\s+)?(?:last|final)\s+(?:phase|stage)\b"
    r"|\b(?:the\s+)?(second|2nd)[\s-]+(?:to[\s-]+)?last\s+(?:phase|stage)\b",
    re.IGNORECASE,
)
# A week counted from the end: 倒数第二周, "the penultimate week", "the second-to-last week".
_WEEK_FROM_THE_END = re.compile(
    rf"倒数\s*第\s*(\d|{_CN_NUMBER})\s*个?\s*周"
    r"|\b(?:the\s+)?(?:penultimate|(second|2nd)[\s-]+(?:to[\s-]+)?last)\s+week\b",
    re.IGNORECASE,
)
# A week counted within a phase: 第二个阶段的最后一周, 大模型阶段的第一周, "the first week
# of phase 3", "the last week of the hardware phase".
_PHASE_WORDS = (
    rf"第\s*(?:\d|{_CN_NUMBER})\s*个?\s*阶段"
    r"|(?:基础|硬件|大模型|应用)(?:强化|优化|技术|开发)?\s*(?:那个|这个|的)?\s*阶段"
)
_WEEK_OF_PHASE = re.compile(
    rf"(?P<phase>{_PHASE_WORDS})\s*(?:的|里的?|中的?|里面的?)?\s*"
    rf"(?:第\s*(?P<nth>\d|{_CN_NUMBER})\s*周|(?P<last>最后|最末)\s*一?\s*周|(?P<first>首|头)\s*周)"
)
_PHASE_WORDS_EN = (
    r"phase\s*\d|(?:first|second|third|fourth)\s+(?:phase|stage)"
    r"|(?:foundations?|basics?|hardware|large[\s-]?models?|llms?|applications?)"
    r"(?:[\s-](?:optimi[sz]ation|development))?\s+(?:phase|stage)"
)
_WEEK_OF_PHASE_EN = re.compile(
    r"\b(?:the\s+)?(?P<which>first|second|third|fourth|last|final)\s+week\s+(?:of|in)\s+"
    rf"(?:the\s+)?(?P<phase>{_PHASE_WORDS_EN})\b",
    re.IGNORECASE,
)
_WEEK_ORDINALS_EN = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1, "final": -1}


def positions_as_numbers(question: str) -> str:
    """第二个阶段的最后一周 → 第8周, 倒数第二周 → 第15周, 最后一个阶段 → 第4阶段, "the first
    week of phase 3" → week 9: positions named as the curriculum numbers them."""

    def last_phase(match: re.Match[str]) -> str:
        back = _number(match.group(1)) if match.group(1) else 2 if match.group(2) else 1
        number = _last_phase() - (back or 1) + 1
        english = match.group(0).isascii()
        return (
            (f"phase {number}" if english else f"第{number}阶段") if number > 0 else match.group(0)
        )

    def from_the_end(match: re.Match[str]) -> str:
        back = _number(match.group(1)) if match.group(1) else 2
        number = _plan_weeks() - (back or 1) + 1
        if number < 1:
            return match.group(0)
        return f"week {number}" if match.group(0).isascii() else f"第{number}周"

    def week_of_phase(match: re.Match[str], nth: int | None, english: bool) -> str:
        phase = phase_number(match.group("phase"))
        weeks = _phase_weeks(phase) if phase else None
        if not weeks or nth is None:
            return match.group(0)
        week = weeks[1] if nth < 0 else weeks[0] + nth - 1
        if not weeks[0] <= week <= weeks[1]:
            return match.group(0)
        return f"week {week}" if english else f"第{week}周"

    question = _LAST_PHASE.sub(last_phase, question)
    question = _WEEK_FROM_THE_END.sub(from_the_end, question)
    question = _WEEK_OF_PHASE.sub(
        lambda m: week_of_phase(
            m, -1 if m.group("last") else 1 if m.group("first") else _number(m.group("nth")), False
        ),
        question,
    )
    return _WEEK_OF_PHASE_EN.sub(
        lambda m: week_of_phase(m, _WEEK_ORDINALS_EN[m.group("which").lower()], True), question
    )


# "FlashAttn", "paged attn": the plan writes Attention in full.
_ATTN = re.compile(r"(?<=[a-z\s])attn(?![A-Za-z])", re.IGNORECASE)
# How long an answer should be, which quoting does not change: "总结一下", "一句话说说",
# "in a nutshell", "give me the short version of".
_SUMMARY_REQUEST = re.compile(
    r"^(?:请|帮我|麻烦)?\s*(?:简单|简要)?\s*(?:总结|概括|归纳|概述)(?:一下)?"
    r"|(?:简单|简要)?\s*(?:总结|概括|归纳|概述)一下"
    r"|[，,]?\s*(?:简单|简要)?\s*(?:总结|概括)(?:一下)?\s*(?=[。？?！!]*$)"
    r"|一句话\s*(?:说说|讲讲|介绍|概括|总结|解释)?(?:一下)?|简单\s*(?:说说|讲讲|介绍)(?:一下)?"
    r"|\bin a nutshell\b|\bin (?:one|a) sentence\b|\btl;?dr\b|\bbriefly\b"
    r"|\b(?:give me |what(?:'s| is) )?(?:the|a) (?:short|quick|brief) (?:version|rundown|summary|overview)"
    r" of\b|\bsummari[sz]e\b",
    re.IGNORECASE,
)


def without_summary_request(question: str) -> str:
    """The question without the words asking for a short answer ("一句话说说Demo 3" → "Demo
    3"): quotes are short anyway, and those words match the plan's own (阶段总结)."""
    stripped = re.sub(r"\s{2,}", " ", _SUMMARY_REQUEST.sub(" ", question)).strip()
    stripped = re.sub(r"\s+(?=[。？?！!，,.])", "", stripped)
    return stripped if re.search(r"[\w\u4e00-\u9fff]", stripped) else question


# A request worded as a command ("Show me which framework handles RAG", "告诉我第6周的项目",
# "列一下第三阶段的论文"): its verb is no search word ("show" would look for the plan's
# 展示方式), so the request is read as the question it stands for.
_REQUEST_EN = re.compile(
    r"^(?:(?:please|pls|hey|hi|ok|so)[,\s]+)*(?:(?:can|could|would) you\s+)?(?:please\s+)?"
    r"(?:(?:tell|show|give)\s+me|list|name|remind\s+me)(?:\s+(?:about|of))?\s+",
    re.IGNORECASE,
)
_WH_START = re.compile(r"^(?:which|what|how|where|when|who|whom|whose|why|whether|if)\b", re.I)
_REQUEST_ZH = re.compile(
    r"^(?:请|麻烦|能不能|可以)?\s*(?:你)?\s*(?:帮我|给我|为我)?\s*"
    r"(?:告诉我|看看|查查|找找|查一下|找一下|列一下|列出|列举|讲讲|说说|介绍一下|讲一下|说一下)\s*"
)


def without_request_verb(question: str) -> str:
    """ "Show me which framework handles RAG in Demo 2" → "which framework handles RAG in Demo
    2"; "Tell me the framework of Demo 2" → "what is the framework of Demo 2"; "告诉我学完第4周
    时应该达到的里程碑" → "学完第4周时应该达到的里程碑". Anything else comes back unchanged."""
    match = _REQUEST_EN.match(question)
    if match and question[match.end() :].strip():
        rest = question[match.end() :]
        return rest if _WH_START.match(rest) else f"what is {rest}"
    match = _REQUEST_ZH.match(question)
    if match and match.end() and re.search(r"[\w\u4e00-\u9fff]", question[match.end() :]):
        return question[match.end() :]
    return question


# What a chat message carries around its question: @-mentions ("@学习助手 第10周做啥",
# Feishu's "@_user_1"), markdown quote marks and emphasis ("> …", "**Demo 2**"), emoji and
# the placeholders a pasted message leaves ("[图片]").
_MENTION = re.compile(r"(?:^|(?<=\s))@[^\s@]{1,40}(?=\s|$)")
_QUOTE_MARK = re.compile(r"^[ \t]*>+[ \t]*", re.MULTILINE)
_EMPHASIS = re.compile(r"\*\*|`+")
# (also what answering.py leaves out of a quoted heading)
EMOJI = re.compile(r"[\u2600-\u27bf\u2b50\ufe0f\u20e3\u200d\U0001f300-\U0001faff]+")
_PLACEHOLDER = re.compile(r"\[(?:图片|表情|文件|image|sticker|photo)\]", re.IGNORECASE)
# ... and the greetings and thanks around it ("Hey, quick question: …? Thanks!", "你好，…谢谢！"),
# whose words are no search words
_GREETING = re.compile(
    r"^\s*(?:(?:hi|hey|hello|hiya)(?:\s+there)?\s*[,!.，！]\s*|你好\s*[,!，！。]?\s*)+"
    r"|^\s*(?:a\s+)?quick\s+question\s*[:：,，-]\s*",
    re.IGNORECASE,
)
_THANKS = re.compile(
    r"(?<=[?？!！.。,，\s])\s*(?:thanks|thank\s+you|thx|cheers|谢谢|多谢|感谢)"
    r"(?:\s+(?:a\s+lot|so\s+much|in\s+advance))?\s*[!！.。~～]*\s*$",
    re.IGNORECASE,
)


def without_chat_noise(question: str) -> str:
    """ "@学习助手 第14周要搞的那个项目叫啥 👀👀" → "第14周要搞的那个项目叫啥"; "**Demo 2** 用的啥数据库~"
    → "Demo 2 用的啥数据库~"; "Hey, quick question: what tool does Demo 3 use? Thanks!" → "what
    tool does Demo 3 use?". A message that is nothing but noise comes back unchanged."""
    rest = _PLACEHOLDER.sub(" ", EMOJI.sub(" ", _MENTION.sub(" ", question)))
    rest = _EMPHASIS.sub("", _QUOTE_MARK.sub("", rest))
    for _ in range(2):  # "Hey, quick question: …"
        rest = _GREETING.sub("", rest, count=1)
    rest = _THANKS.sub("", rest)
    rest = re.sub(r"[ \t]+", " ", rest).strip()
    return rest if re.search(r"[\w\u4e00-\u9fff]", rest) else question


# A fill-in-the-blank prompt ("补全：Demo 2 的向量库用的是___", "Complete: Demo 2 serves its
# API with ___.", "第8周要读的论文是____？"): the instruction is no search word and the blank
# is what is asked.
_BLANK_PROMPT = re.compile(
    r"^\s*(?:(?:请)?(?:补全|填空|补充完整|完形填空)(?:一下)?\s*[:：]"
    r"|(?:please\s+)?(?:complete|fill\s+in(?:\s+the\s+blanks?)?|fill\s+the\s+blanks?)"
    r"(?:\s+the\s+sentence)?\s*[:：])\s*",
    re.IGNORECASE,
)
_BLANK = re.compile(r"_{2,}|＿{2,}|（\s*）|\(\s*\)")


def without_blanks(question: str) -> str:
    """ "补全：Demo 2 的向量库用的是___" → "Demo 2 的向量库用的是什么？"; "Complete: Demo 2 serves
    its API with ___." → "Demo 2 serves its API with what?". Anything else comes back
    unchanged."""
    rest = _BLANK_PROMPT.sub("", question, count=1)
    if not rest.strip():
        return question
    blank = _BLANK.search(rest)
    if not blank:
        return rest
    # The word that stands for the blank is in the language around it.
    before = re.findall(r"[A-Za-z\u4e00-\u9fff]", rest[: blank.start()])
    english = before[-1].isascii() if before else kbtext.language_of(rest) == "en"
    rest = _BLANK.sub(" what " if english else "什么", rest)
    rest = re.sub(r"\s+", " ", re.sub(r"\s*[.。?？!！]*\s*$", "", rest)).strip()
    return rest + ("?" if english else "？")


# "应该重点掌握哪些": 重点 before a verb says how much, not what (the plan's 学习重点 column,
# which "重点是什么" asks for).
_FOCUS_ADVERB = re.compile(r"重点(?=掌握|学习?|关注|复习|练|准备|攻克|突破|理解|看)")


def normalise(question: str) -> str:
    """Traditional characters as simplified (第十週 → 第十周); the plan's names for numbered
    things: 第一个 Demo / Demo一 / Demo1 → Demo 1; a week's 头两天 → Day 1-2; 8位整数 /
    8-bit → INT8; positions (positions_as_numbers)."""

    def nth(match: re.Match[str]) -> str:
        number = _number(match.group(1))
        name = "Demo" if match.group(2) == "演示" else match.group(2)  # 第三个演示: Demo 3
        return f"{name} {number}" if number else match.group(0)

    def cn(match: re.Match[str]) -> str:
        number = _number(match.group(2))
        return f"{match.group(1)} {number}" if number else match.group(0)

    def first_days(match: re.Match[str]) -> str:
        number = _number(match.group(1))
        return f"Day 1-{number}" if number and 1 < number < 8 else match.group(0)

    question = without_chat_noise(question)
    question = without_summary_request(_ATTN.sub("Attention", kbtext.simplified(question)))
    question = _FOCUS_ADVERB.sub("", without_request_verb(without_blanks(question)))
    question = positions_as_numbers(question)
    question = _GLUED_NUMBER.sub(r"\1 ", _DAYS.sub("Day", question))
    question = _BITS.sub(r"INT\1", question)
    question = _FIRST_DAYS.sub(first_days, question)
    question = _NTH_DEMO_EN.sub(lambda m: f"Demo {_ORDINALS[m.group(1).lower()]}", question)
    question = _DEMO_EN.sub(
        lambda m: f"{m.group(1)} {_ENGLISH_NUMBERS[m.group(2).lower()]}", question
    )
    return _DEMO_CN.sub(cn, _NTH_DEMO.sub(nth, question))


def week_number(text: str) -> int | None:
    """The week a text names (第10周, 第十周, week 10, W10), 1-99; None when it names none."""
    for pattern in _WEEK:
        match = pattern.search(text)
        if match:
            number = _number(match.group(1))
            if number is not None and 0 < number < 100:
                return number
    return None


# A span of weeks: 第5-8周, 第五到第八周, weeks 5-8, weeks 5 to 8, W5-W8; 前四周 / the first 4 weeks.
_WEEK_SPAN = [
    re.compile(
        rf"第\s*(\d{{1,2}}|{_CN_NUMBER})\s*周?\s*(?:[-–~～]|到|至)\s*第?\s*(\d{{1,2}}|{_CN_NUMBER})\s*周"
    ),
    # 5-8周, 5到8周 (but not 花2到3周, a length of time)
    re.compile(
        rf"(?<![\d.花用需要])(\d{{1,2}}|{_CN_NUMBER})\s*(?:[-–~～]|到|至)\s*(\d{{1,2}}|{_CN_NUMBER})\s*周"
    ),
    re.compile(
        rf"{_LATIN_START}(?:weeks?|wks?)\s*(\d{{1,2}})\s*(?:-|–|to|through|and)\s*(\d{{1,2}}){_LATIN_END}",
        re.IGNORECASE,
    ),
    re.compile(r"(?<![A-Za-z0-9])W(\d{1,2})\s*[-–]\s*W?(\d{1,2})(?![A-Za-z0-9])", re.IGNORECASE),
]
_FIRST_WEEKS = [
    # 前四周, 头两周, 刚入门那四周, 刚开始的两周
    re.compile(
        rf"(?:前|头|开头|(?:刚开始|刚入门|入门)(?:的|那)?)\s*(\d{{1,2}}|{_CN_NUMBER})\s*个?\s*周"
    ),
    re.compile(r"\bfirst\s+(\d{1,2}|[a-z]+)\s+weeks\b", re.IGNORECASE),
]
# 最后四周, the last four weeks: counted back from the plan's last week
_LAST_WEEKS = [
    re.compile(rf"(?:最后|最末|末尾)(?:的|那)?\s*(\d{{1,2}}|{_CN_NUMBER})\s*个?\s*周"),
    re.compile(r"\b(?:last|final)\s+(\d{1,2}|[a-z]+)\s+weeks\b", re.IGNORECASE),
]
_ENGLISH_NUMBERS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen".split()
    )
}


# Months of the plan, four weeks each (its phases are four weeks long): 第二个月 → weeks 5-8,
# 前两个月 → 1-8, 最后一个月 → the plan's last four weeks.
WEEKS_PER_MONTH = 4
_MONTH = re.compile(rf"第\s*(\d|{_CN_NUMBER})\s*个\s*月")
_FIRST_MONTHS = re.compile(rf"(?:前|头)\s*(\d|{_CN_NUMBER})\s*个\s*月")
# 后两个月 but not 之后两个月 ("the two months after").
_LAST_MONTHS = re.compile(rf"(?:最后|最末|(?<![之以然])后)\s*(\d|{_CN_NUMBER})\s*个\s*月")
# "the last month" (not a bare "last month", which is the month before this one).
_ENGLISH_MONTH = re.compile(
    r"\bthe\s+(first|second|third|fourth|final|last)\s+month\b", re.IGNORECASE
)
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4}


def _plan_weeks() -> int:
    """The number of the curriculum's last week (16 when no curriculum is loaded)."""
    from django.db.models import Max

    from portal.curriculum.models import Week

    return Week.objects.active().aggregate(last=Max("number"))["last"] or 16


def month_span(text: str) -> tuple[int, int] | None:
    """The weeks of the month(s) a text names (第二个月 → (5, 8), 前两个月 → (1, 8),
    最后一个月 → the last four weeks of the plan, "the final month"); None otherwise."""
    match = _MONTH.search(text)
    if match and (n := _number(match.group(1))):
        return WEEKS_PER_MONTH * (n - 1) + 1, WEEKS_PER_MONTH * n
    match = _FIRST_MONTHS.search(text)
    if match and (n := _number(match.group(1))):
        return 1, WEEKS_PER_MONTH * n
    match = _LAST_MONTHS.search(text)
    english = _ENGLISH_MONTH.search(text)
    if match or (english and english.group(1).lower() in ("final", "last")):
        n = _number(match.group(1)) if match else 1
        if n:
            last = _plan_weeks()
            return max(1, last - WEEKS_PER_MONTH * n + 1), last
    if english and (n := _ORDINALS.get(english.group(1).lower())):
        return WEEKS_PER_MONTH * (n - 1) + 1, WEEKS_PER_MONTH * n
    return None


def week_span(text: str) -> tuple[int, int] | None:
    """The span of weeks a text names (第5-8周, weeks 5-8, 前四周 → (1, 4), 最后四周 →
    the plan's last four); None otherwise."""
    for pattern in _WEEK_SPAN:
        match = pattern.search(text)
        if match:
            first, last = _number(match.group(1)), _number(match.group(2))
            if first and last and 0 < first <= last < 100:
                return first, last
    for patterns, from_the_end in ((_FIRST_WEEKS, False), (_LAST_WEEKS, True)):
        for pattern in patterns:
            match = pattern.search(text)
            if match:
                word = match.group(1).lower()
                count = _number(word) if not word.isalpha() or not word.isascii() else None
                count = count or _ENGLISH_NUMBERS.get(word)
                if count and 0 < count < 100:
                    if not from_the_end:
                        return 1, count
                    last = _plan_weeks()
                    return max(1, last - count + 1), last
    return None


def phase_of_span(first: int, last: int) -> int | None:
    """The phase whose weeks hold the whole span (the curriculum's phases), else None."""
    from portal.curriculum.models import Phase

    phase = (
        Phase.objects.filter(archived=False, first_week__lte=first, last_week__gte=last)
        .values_list("number", flat=True)
        .first()
    )
    return phase


def phase_ended_by(week: int) -> int | None:
    """The phase whose last week this is (the curriculum's phases), else None: that week's
    milestone is the phase's ("第4周 …（阶段里程碑）")."""
    from portal.curriculum.models import Phase

    return (
        Phase.objects.filter(archived=False, last_week=week)
        .values_list("number", flat=True)
        .first()
    )


def names_a_part_of_the_plan(focus: Focus) -> bool:
    """False when the focus names a week or phase the curriculum does not have (第20周 of a
    16-week plan); True otherwise, a paper or a guide section included."""
    from portal.curriculum.models import Phase, Week

    # Without a curriculum loaded (a knowledge base of uploads only) nothing is ruled out.
    if focus.week:
        numbers = set(Week.objects.active().values_list("number", flat=True))
        return not numbers or focus.week in numbers
    if focus.phase:
        numbers = set(Phase.objects.filter(archived=False).values_list("number", flat=True))
        return not numbers or focus.phase in numbers
    return True


def phase_number(text: str) -> int | None:
    for pattern in _PHASE:
        match = pattern.search(text)
        if match:
            number = _number(match.group(1))
            if number is not None and 0 < number < 10:
                return number
    lowered = text.lower()
    for name, number in PHASE_NAMES.items():
        if name in lowered:
            return number
    match = _NAMED_PHASE.search(text)
    if match:
        return PHASE_NAMES[f"{match.group(1)}阶段"]
    match = _NAMED_PHASE_EN.search(text)
    return _EN_PHASE_NUMBERS[match.group(1)[:3].lower()] if match else None


# What names are compared without: spaces, hyphens, underscores, middle dots, full stops.
_SEPARATOR = re.compile(r"[\s\-_·.]")


def _squash(text: str) -> str:
    return _SEPARATOR.sub("", text.lower())


def _paper_aliases() -> list[tuple[str, str]]:
    """(alias, arxiv_id) for every core paper, longest alias first.

    Aliases: the short name, each part of a short one ("vLLM (PagedAttention)" gives vllm
    and pagedattention; a title-like short name is not split, or "Self-attention does not
    need O(n^2) memory" would make "memory" name a paper), and the title; compared without
    case, spaces or hyphens.
    """
    from portal.papers.models import Paper

    aliases: list[tuple[str, str]] = []
    for arxiv_id, short, title in Paper.objects.core().values_list(
        "arxiv_id", "short_name", "title"
    ):
        parts = re.split(r"[()（）/]", short) if len((short or "").split()) <= 3 else []
        names = {short, title, *parts}
        for name in names:
            squashed = _squash(name or "")
            if len(squashed) >= 3:
                aliases.append((squashed, arxiv_id))
    aliases.sort(key=lambda pair: -len(pair[0]))
    return aliases


def paper_id_of(text: str) -> str:
    """The core paper a question names by arXiv id, title or short name; "" when none."""
    match = _ARXIV.search(text)
    if match:
        return match.group(1)
    squashed, where = _squash_with_positions(text)
    for alias, arxiv_id in _paper_aliases():
        start = squashed.find(alias)
        while start >= 0:
            # A whole word of the question, not the inside of one ("rope" in "Europe").
            before = text[where[start] - 1] if where[start] > 0 else " "
            end = where[start + len(alias) - 1] + 1
            after = text[end] if end < len(text) else " "
            if not (_LATIN.match(before) or _LATIN.match(after)):
                return arxiv_id
            start = squashed.find(alias, start + 1)
    return ""


_LATIN = re.compile(r"[A-Za-z]")


def _squash_with_positions(text: str) -> tuple[str, list[int]]:
    """_squash(text) and, for each of its characters, its index in `text`."""
    chars: list[str] = []
    where: list[int] = []
    for index, char in enumerate(text):
        if _SEPARATOR.match(char):
            continue
        for lowered in char.lower():
            chars.append(lowered)
            where.append(index)
    return "".join(chars), where


# "除了 vLLM 之外还该看哪类论文", "除了 vLLM 还有哪个": the name after 除了 is what the
# question is not about.
_EXCLUDED = [
    re.compile(r"除了?\s*[^，,。？?！!]{1,30}?\s*(?:之外|以外|外|(?=[，,]?\s*(?:还|也)))"),
    re.compile(
        r"\b(?:besides|other than|apart from|aside from|except(?: for)?)\s+[A-Za-z0-9.\-]+(?:\s+\d+)?",
        re.IGNORECASE,
    ),
]


# The words of an exclusion itself, around what it excludes.
_EXCLUSION_WORDS = re.compile(
    r"除了?|之外|以外|外|besides|other than|apart from|aside from|except(?: for)?", re.IGNORECASE
)


# "列了PPO、DQN和哪个算法": the names listed before "和哪个" are excluded too.
_NAMES_AND_WHICH = re.compile(
    r"[A-Za-z][A-Za-z0-9.+\-]*(?:\s*[、,，]\s*[A-Za-z][A-Za-z0-9.+\-]*)*\s*(?:和|与|及|以及|还有)\s*哪"
)


def excludes_a_name(question: str) -> bool:
    """Whether what the question excludes is a name ("除了 vLLM 还有哪个", "besides GPTQ",
    "PPO、DQN和哪个算法"), not a description ("除了录演示视频和部署在线Demo"): then the answer
    names another."""
    if _NAMES_AND_WHICH.search(question):
        return True
    for pattern in _EXCLUDED:
        for match in pattern.finditer(question):
            body = _EXCLUSION_WORDS.sub("", match.group(0))
            latin = len(re.findall(r"[A-Za-z0-9]", body))
            if latin and latin >= len(re.findall(r"[\u4e00-\u9fff]", body)):
                return True
    return False


# Where the names an exclusion lists part: "除了Hugging Face Blog、NVIDIA Developer Blog和机器之心".
_NAME_LIST_SEPARATOR = re.compile(r"\s*(?:[、,，/]|和|与|及|以及|还有|\band\b|\bor\b)\s*")
# "除了…，还有哪个" / "besides X, which other": an exclusion followed by another of its kind.
_EXCLUDED_WITH_ANOTHER = re.compile(
    r"除了?\s*([^，,。？?！!]{1,60}?)\s*(?:之外|以外|外)?\s*[，,]?\s*(?:还|也|另外)"
    r"|\b(?:besides|other than|apart from|aside from)\s+([^,，?？]{1,60}?)\s*[,，]",
    re.IGNORECASE,
)


def excluded_names(question: str) -> list[str]:
    """The names a question sets aside to ask for another: "除了Hugging Face Blog、NVIDIA
    Developer Blog和机器之心，还有哪个" → [Hugging Face Blog, NVIDIA Developer Blog, 机器之心];
    "Besides PyTorch 2.0+, which Python version" → [PyTorch 2.0+]. Each is at least two
    characters; [] when the question sets nothing aside."""
    names: list[str] = []
    for match in _EXCLUDED_WITH_ANOTHER.finditer(question):
        body = match.group(1) or match.group(2) or ""
        names += [n.strip() for n in _NAME_LIST_SEPARATOR.split(body) if len(n.strip()) >= 2]
    return names


def without_exclusions(question: str) -> str:
    """The question without the names it excludes ("除了 vLLM 之外", "besides vLLM")."""
    for pattern in _EXCLUDED:
        question = pattern.sub(" ", question)
    return question


@dataclass(frozen=True)
class Focus:
    """Metadata a question names; retrieval keeps to chunks that match all of it."""

    week: int | None = None
    phase: int | None = None
    paper_id: str = ""
    kinds: tuple[str, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return bool(self.week or self.phase or self.paper_id or self.kinds)

    def describe(self) -> dict[str, object]:
        return {
            k: v
            for k, v in (
                ("week", self.week),
                ("phase", self.phase),
                ("paper_id", self.paper_id),
                ("kinds", list(self.kinds)),
            )
            if v
        }


# "硬件阶段之后接着是什么阶段", "the phase after the hardware one": the phase next to the
# one named. Only when the question then asks for a 阶段: "学完第一阶段以后能达到什么程度"
# is about the first phase.
_NEXT_PHASE = re.compile(
    r"(?:之后|以后|后面|过后|结束后)[^，,。？?]{0,8}?阶段|下一个?阶段"
    r"|\b(?:phase|stage) (?:after|following)\b|\bnext (?:phase|stage)\b",
    re.IGNORECASE,
)
_PREVIOUS_PHASE = re.compile(
    r"(?:之前|以前|前面)[^，,。？?]{0,8}?阶段|[上前]一个?阶段|\b(?:phase|stage) before\b",
    re.IGNORECASE,
)


# "我在第11周，这个阶段的实践项目是什么", "第5周属于哪个阶段", "which phase is week 7 in":
# the phase the named week belongs to.
_THIS_PHASE = re.compile(
    r"(?:这|该|本|此)\s*(?:一|个)?\s*阶段|(?:所在|所属)的?\s*阶段"  # 第6周所在阶段的里程碑
    r"|(?:哪个|哪一个?|什么|啥)\s*阶段"  # 第5周属于哪个阶段
    r"|\b(?:this|that|the same|its|which|what) (?:phase|stage)\b",
    re.IGNORECASE,
)


def _neighbour(phase: int | None, question: str) -> int | None:
    if phase and _NEXT_PHASE.search(question):
        return phase + 1 if phase < max(PHASE_NAMES.values()) else None
    if phase and _PREVIOUS_PHASE.search(question):
        return phase - 1 if phase > 1 else None
    return phase


_QUESTION_SENTENCE = re.compile(r"[^。！？!?；;]+[。！？!?；;]*")


def last_asked_week(question: str) -> int | None:
    """The week a question names; when it names several and its last sentence names one
    ("第3周和第6周分别处于哪个阶段？第6周所在阶段的学习重点是什么？"), that one: the last
    question is the one to answer, the earlier ones set it up."""
    first = week_number(question)
    sentences = [s for s in _QUESTION_SENTENCE.findall(question) if s.strip(" 。！？!?；;")]
    if first is None or len(sentences) < 2:
        return first
    last = week_number(sentences[-1])
    return last if last is not None else first


def focus_of(question: str) -> Focus:
    """The week, phase, core paper or guide section a question names (see the module doc)."""
    lowered = question.lower()
    span = week_span(question) or month_span(question)
    week = None if span else last_asked_week(question)
    if span and span[0] == span[1]:
        week, span = span[0], None
    if week and _THIS_PHASE.search(question):
        week, phase_of_week = None, phase_of_span(week, week)
    else:
        phase_of_week = None
    paper_id = "" if week or span or phase_of_week else paper_id_of(without_exclusions(question))
    phase = phase_of_week or (None if week or paper_id else phase_number(question))
    if span and not phase:
        phase = phase_of_span(*span)
    phase = _neighbour(phase, question)
    kinds: tuple[str, ...] = ()
    if not (week or phase or paper_id):
        if (
            any(w in lowered for w in TIME_SPLIT_WORDS)
            or _TIME_SHARE.search(question)
            or _TIME_SHARE_ZH.search(question)
        ):
            kinds = ("guide:time_split", "plan")
        elif any(w in lowered for w in FAQ_WORDS):
            kinds = ("guide:faq", "plan")
    return Focus(week=week, phase=phase, paper_id=paper_id, kinds=kinds)


def strip_focus(question: str) -> str:
    """The question without the words that name its week or phase (第十周, W14, 第三阶段)."""
    # spans first: "第1周到第4周" is one span, not two weeks
    for pattern in (*_WEEK_SPAN, *_FIRST_WEEKS, *_WEEK, *_PHASE, _NAMED_PHASE, _NAMED_PHASE_EN):
        question = pattern.sub(" ", question)
    for name in PHASE_NAMES:
        question = re.sub(re.escape(name), " ", question, flags=re.IGNORECASE)
    return question


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-.+][A-Za-z0-9]+)*\+*")


def _name_words(text: str) -> Iterator[tuple[str, int]]:
    """The Latin words of a text as names are written ("TensorRT-LLM", "Qwen2.5-0.5B"), but
    a compound of a name and a glossary word ("GPU-architecture", "INT8-quantized") as its
    parts: the plan says "GPU架构", never the compound."""
    for match in _NAME.finditer(text):
        parts = match.group(0).split("-")
        if len(parts) > 1 and any(p.isalpha() and p.lower() in kbtext.SYNONYMS for p in parts):
            # ... the technical ones: "Gym-compatible" names no more than it did whole
            yield from ((p, match.start()) for p in parts if p and _technical(p))
        else:
            yield match.group(0), match.start()


def _technical(word: str) -> bool:
    """A capital after the first letter, or a digit: TensorRT, H100, CANN."""
    return any(c.isupper() for c in word[1:]) or any(c.isdigit() for c in word)


def specific_names(question: str) -> list[str]:
    """The product, model or tool names a question asks about, as written: a Latin word
    with a capital after its first letter or with a digit (TensorRT-LLM, H100, CANN,
    DeepSpeed, iPhone); in a Chinese question also a capitalised word (Mamba, Kaggle). An
    English question capitalises its first word and plain nouns ("Without a GPU", "a
    Chinese-language blog"), so there a capital alone names nothing. Words that only name
    the week or phase (W14) are not names; nor are stop words and glossary words."""
    chinese = kbtext.language_of(question) == "zh"
    names: dict[str, None] = {}
    stripped = strip_focus(question)
    for word, start in _name_words(stripped):
        lower = word.lower()
        if lower in kbtext._STOPWORDS or lower in kbtext.SYNONYMS or len(word) < 2:
            continue
        technical = _technical(word)
        # in an English question, a capital inside a sentence ("the Mamba paper")
        inside = not re.search(r"(?:^|[.?!:;]\s*|[\"'(]\s*)$", stripped[:start])
        if technical or (word[0].isupper() and (chinese or (inside and word.isalpha()))):
            names.setdefault(word, None)
    return list(names)


# Where a chat message's sentences end: 。！？；, and . ! ? ; before a space.
_SENTENCE_END = re.compile(r"(?<=[。！？；])\s*|(?<=[.!?;])\s+")


# A question that refers back to its scene: to the week (这周, 这一段, "this week") or to
# what the asker does in it (这个项目, 该任务, "this project").
_REFERS_TO_THE_SCENE = re.compile(
    r"[这本当那]\s*(?:一|个)?\s*(?:周(?!末)|星期(?![六日天])|段|阶段)|这[个些项次]|该|此"
    r"|\b(?:this|that|these|the same) (?:week|phase|stage|project|task|demo)\b",
    re.IGNORECASE,
)
_REFERS_BACK = re.compile(
    r"\b(?:instead|it|its|they|them|this one|that one)\b|它|替代|代替|上面|前面说的", re.IGNORECASE
)


def asked_part(question: str) -> str:
    """A chat message without the sentences that come before its first question ("我现在
    在第7周，组里说下周要交项目。计划里第8周的实践项目叫什么？" asks about week 8): what the
    asker did today names weeks and things the question is not about. The whole message
    stays when its first sentence asks, when no sentence ends in a question mark, or when
    the question says too little on its own ("怎么办？") or refers back to what came before
    ("What can I use instead?", "这周要交什么？" after the sentence that names the week)."""
    parts = [part for part in _SENTENCE_END.split(question.strip()) if part.strip()]
    first = next((i for i, part in enumerate(parts) if part.rstrip()[-1] in "？?"), 0)
    if not first:
        return question
    asked = " ".join(parts[first:])
    if _REFERS_BACK.search(asked):  # "What can I use instead?": instead of what it said
        return question
    focus = focus_of(asked)
    before = " ".join(parts[:first])
    if _REFERS_TO_THE_SCENE.search(asked) and not focus and focus_of(before):
        # "我现在在第8周，准备做本周的项目。这周的项目具体是什么？": 这周 is the week before
        return question
    enough = focus or len(kbtext.query_terms(strip_focus(asked))) >= 2
    return asked if enough else question


# Where a sentence's clauses end: "第15周我开始搭Sandbox，强化学习框架计划推荐用哪个？"
_CLAUSE_END = re.compile(r"(?<=[，,。！？；：:])\s*|(?<=[.!?;])\s+")
# The asker's own situation: "我在…", "I'm in week 9 …", "my LLM".
_FIRST_PERSON = re.compile(r"我|\b(?:I|I'm|I am|my|we|we're|our)\b", re.IGNORECASE)
# A day of the week's checklist ("第1周Day 1-2"): the scene is that week's page.
_DAY = re.compile(r"(?<![A-Za-z])day\s*\d|第\s*\d\s*天", re.IGNORECASE)


# A clause that asks something itself, so it sets no scene.
_ASKS_IN_SCENE = re.compile(
    r"[?？]|什么|哪|几|多少|怎么|怎样|如何|吗|啥|咋|是否"
    r"|\b(?:what|which|how|who|when|where|why|whether|is|are|does|do)\b",
    re.IGNORECASE,
)


def _weeks_named(text: str) -> set[int]:
    return {_number(m.group(1)) for pattern in _WEEK for m in pattern.finditer(text)} - {None}


def _clauses(question: str) -> list[str]:
    return [part for part in _CLAUSE_END.split(question.strip()) if part.strip()]


def asked_clause(question: str) -> str:
    """The question's last clause: what a question that sets a scene first asks."""
    clauses = _clauses(question)
    return clauses[-1] if clauses else question


def without_scene_week(question: str, *, first_person: bool = True) -> str | None:
    """A question whose week only sets the asker's scene, without that week: "第15周我开始搭
    Sandbox，强化学习框架计划推荐用哪个？" asks what the plan recommends, wherever it says so,
    not what week 15's page says. None when no clause before the last names a week in the
    first person or names a day of it, or when the last clause names a week or phase itself
    or refers back to the scene ("…这周要交什么？", "…这个项目叫什么？"). Without
    `first_person`, a scene need not be the asker's ("第13周搭飞书机器人，向量数据库用哪个？")."""
    clauses = _clauses(question)
    if len(clauses) < 2:
        return None
    last = clauses[-1]
    scene = " ".join(clauses[:-1])
    if week_number(scene) is None or week_span(scene):
        return None
    if first_person and not _FIRST_PERSON.search(scene):
        return None
    if not first_person and (_ASKS_IN_SCENE.search(scene) or len(_weeks_named(scene)) > 1):
        return None  # "第15周在Kaggle上该做什么，…？" asks in its first clause; 第9周和第10周
    if _DAY.search(scene):
        return None
    if week_number(last) or week_span(last) or phase_number(last):
        return None
    if _REFERS_TO_THE_SCENE.search(last) or _THIS_PHASE.search(last):
        return None
    stripped = scene
    for pattern in _WEEK:
        stripped = pattern.sub(" ", stripped)
    return re.sub(r"\s+", " ", f"{stripped} {last}").strip()


# Two parts of the plan asked about together: "第8周和第10周的实践项目分别是什么？",
# "Demo 1和Demo 3各用什么技术", "基础阶段和硬件阶段的里程碑有什么区别". Each is answered on
# its own; one answer for both would quote only the part that matched best.
_ITEM_KINDS = {
    # 第9-12周 or 第8周, as week_span and week_number read them
    "week": (
        rf"{_WEEK_SPAN[0].pattern}|{_WEEK[0].pattern}"
        r"|(?<![A-Za-z0-9])(?:weeks?|wks?|W)\s*\d{1,2}(?:\s*[-–]\s*W?\d{1,2})?(?![A-Za-z0-9])"
    ),
    "demo": r"(?<![A-Za-z])Demo\s*\d(?!\d)",
    "phase": (
        rf"{_PHASE[0].pattern}|(?:基础|硬件|大模型|应用)(?:强化|优化|技术|开发)?阶段"
        rf"|{_LATIN_START}(?:phase|stage)\s*\d{_LATIN_END}"
    ),
    "day": r"(?<![A-Za-z])Day\s*\d(?:\s*-\s*\d)?(?!\d)",
}
_ITEM = "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _ITEM_KINDS.items())
_BOTH = re.compile(
    rf"(?P<a>{_ITEM.replace('?P<', '?P<a_')})\s*(?:和|与|跟|以及|及|还有|、|,|，|\band\b|\bvs\.?|\bversus\b)\s*"
    rf"(?P<b>{_ITEM.replace('?P<', '?P<b_')})",
    re.IGNORECASE,
)
# ... or each with what is asked of it: "应用阶段的里程碑和基础阶段的里程碑分别是什么",
# "Demo 3的技术亮点和Demo 1的优化技术有什么不同", "应用阶段的学习重点和大模型阶段相比有何不同"
_BOTH_OF = re.compile(
    rf"(?P<a>{_ITEM.replace('?P<', '?P<a_')})(?P<of>的[^，,。？?！!；;和与跟及、]{{1,12}}?)"
    rf"\s*(?:和|与|跟|以及|及|还有|、)\s*(?P<b>{_ITEM.replace('?P<', '?P<b_')})"
    r"(?P<tail>的|\s*(?:相比|比起来|对比|比较))",
    re.IGNORECASE,
)
# ... or two things of one part: "这个Sandbox方案的核心创新和可行性评估结论分别是什么" asks
# for its 核心创新 and for its 可行性评估, which the plan states in two places.
_BOTH_ASKED = re.compile(
    r"^(?P<pre>.*?的)(?P<a>[^，,。？?！!；;和与及的\s]{2,10})\s*(?:和|与|以及|及)\s*"
    r"(?P<b>[^，,。？?！!；;和与及的]{2,12}?)(?:分别|各自)(?:是|有)(?:什么|啥|哪些)"
)
# What asks for each of them, or for how they differ: said of one part, it asks what it is.
_EACH_WORDS = re.compile(r"分别|各自|各(?=[做用学要有是交读练写干])")
_DIFFERENCE = re.compile(
    r"(?:之间)?(?:有(?:什么|啥|何)|的)?(?:区别|不同|差别|差异)(?:是什么|是啥|在哪里?|有哪些)?"
    r"|\bwhat(?:'s| is) the difference between\b",
    re.IGNORECASE,
)


def _kind_of(match: re.Match[str], side: str) -> str:
    return next(kind for kind in _ITEM_KINDS if match.group(f"{side}_{kind}"))


def each_part(question: str) -> list[str] | None:
    """The question once for each of two parts of the plan it names side by side ("第8周和
    第10周的实践项目分别是什么？" → "第8周的实践项目是什么？", "第10周的实践项目是什么？"),
    or None when it does not name two of one kind (weeks, demos, phases, days)."""

    def two(match: re.Match[str] | None) -> bool:
        return (
            bool(match)
            and _kind_of(match, "a") == _kind_of(match, "b")
            and _squash(match.group("a")) != _squash(match.group("b"))
        )

    if two(match := _BOTH.search(question)):
        before, after = question[: match.start()], question[match.end() :]
        parts = [before + match.group(side) + after for side in ("a", "b")]
    elif two(match := _BOTH_OF.search(question)):
        # the first part with what is asked of it, the second as the question goes on
        # ("…和基础阶段的里程碑") or, compared ("…和大模型阶段相比有何不同"), asked the same
        before = question[: match.start()]
        second = (
            before + question[match.start("b") :]
            if match.group("tail") == "的"
            else before + match.group("b") + match.group("of") + "是什么？"
        )
        parts = [before + match.group("a") + match.group("of") + "是什么？", second]
    elif match := _BOTH_ASKED.search(question):
        pre = match.group("pre")
        return [f"{pre}{match.group(side)}是什么？" for side in ("a", "b")]
    else:
        return None
    return [
        _EACH_WORDS.sub(
            "",
            _DIFFERENCE.sub(lambda m: "what is" if m.group(0)[:1].isascii() else "是什么", part),
        )
        for part in parts
    ]


# A yes/no question that states what the asker believes: "…是 Milvus 吗？", "…用的是 W&B 吧？",
# "Is the sandbox built on Ray?", "… built with Flask, correct?".
_CHECKS_A_BELIEF = re.compile(
    r"(?:吗|吧|嘛|对吧|对吗|对不对|是吧|没错吧|没错吗)\s*[？?。！!]*\s*$|是不是"
    r"|^\s*(?:is|are|was|were|does|do|did|has|have)\b"
    r"|(?:right|correct|true|isn'?t it|wasn'?t it|doesn'?t it|aren'?t they|don'?t they)\s*[?？]+\s*$",
    re.IGNORECASE,
)


# A question word: "w1 day1-2干嘛", "第2周项目做啥嘛" ask what, whatever particle ends them.
_ASKS_WHAT = re.compile(r"干嘛|什么|啥|哪|几|多少|怎么|怎样|如何|为何")
# The particles of _CHECKS_A_BELIEF that end a wh-question as readily as a yes/no one.
_SOFT_PARTICLES = "嘛吧"


def checks_a_belief(question: str) -> bool:
    """A yes/no question: the asker says what they believe and asks whether it is so."""
    question = question.strip()
    match = _CHECKS_A_BELIEF.search(question)
    if match and match.group(0)[0] in _SOFT_PARTICLES and _ASKS_WHAT.search(question):
        return False  # "w1 day1-2干嘛": what, not whether
    return bool(match)


# "Web界面用Gradio还是Streamlit？", "DAWN Lab or SAIL?": the asker offers alternatives.
_OFFERS_A_CHOICE = re.compile(r"还是|或者|或是|\bor\b", re.IGNORECASE)


# Characters between "还是" / "or" and an alternative: "还是用Streamlit", "DAWN Lab or SAIL"
# (a name cut short: "DAWN").
CHOICE_SLACK = 4


def alternatives_offered(question: str, names: list[str]) -> list[str]:
    """Of `names` (the question's), those it offers as alternatives to choose from, on
    either side of "还是" or "or": Gradio and Streamlit of "Web界面用Gradio还是Streamlit？",
    not Demo 2 of "Does Demo 2 use Milvus or Pinecone?"."""
    offered: list[str] = []
    for match in _OFFERS_A_CHOICE.finditer(question):
        before = question[: match.start()].rstrip(" ，,、").lower()
        after = question[match.end() :].lstrip().lower()
        for name in names:
            end = before.rfind(name.lower())
            gap = len(before) - end - len(name) if end >= 0 else -1
            at = after.find(name.lower())
            if name not in offered and (0 <= gap <= CHOICE_SLACK or 0 <= at <= CHOICE_SLACK):
                offered.append(name)
    return offered


# "会不会在本地跑LLM推理？", "有没有", "是否": a yes-or-no question asked in the A-not-A form,
# which proposes no belief of the asker's.
_A_NOT_A = re.compile(r"([\u4e00-\u9fff])不\1|([\u4e00-\u9fff])没\2|是否")


def asks_yes_or_no(question: str) -> bool:
    """Whether the question asks whether something is so ("…吗？", "会不会", "is it")."""
    return checks_a_belief(question) or bool(_A_NOT_A.search(question))


# A number the asker proposes: standalone, not part of a name (H100, 6.0001) ...
_PROPOSED_NUMBER = re.compile(r"(?<![A-Za-z0-9.\-])\d+(?:\.\d+)?(?![A-Za-z0-9.])")
# ... nor the number after a capitalised name (Demo 1, Python 3.10, Day 5)
_AFTER_A_NAME = re.compile(r"[A-Z][A-Za-z]*\s$")


def without_proposed_numbers(question: str) -> str:
    """A belief's numbers taken out ("论文清单是20篇对吧" → "论文清单是篇对吧"): the asker's
    guess must not choose the passage; the plan's own number answers. Numbers that name a
    week, a span of weeks or a phase stay, as do those in names (Demo 1, H100)."""
    kept = [
        m.span()
        for pattern in (*_WEEK_SPAN, *_FIRST_WEEKS, *_LAST_WEEKS, *_WEEK, *_PHASE)
        for m in pattern.finditer(question)
    ]
    parts, last = [], 0
    for m in _PROPOSED_NUMBER.finditer(question):
        if any(start <= m.start() < end for start, end in kept):
            continue
        if _AFTER_A_NAME.search(question[: m.start()]):
            continue
        parts.append(question[last : m.start()])
        last = m.end()
    return "".join(parts) + question[last:]


def without_names(question: str, names: list[str]) -> str:
    """The question with these names (as `specific_names` found them) taken out."""
    for name in names:
        question = re.sub(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])", " ", question)
    return re.sub(r"\s{2,}", " ", question).strip()


# The kind of tool a question asks for by name: the answer names one. Named before the
# question word ("向量库用哪个"), only these kinds count (the form was chosen on `dev` with
# them); after it ("用什么环境"), also 环境, 语言, 网站 and 格式.
_TOOL_KINDS_NAMED_FIRST = "框架|库|工具|软件|数据库|平台|SDK|开发包|算法|模型"
_TOOL_KINDS_EN = (
    r"frameworks?|librar(?:y|ies)|tools?|databases?|platforms?|sdks?|environments?|websites?"
    r"|sites?|packages?|algorithms?|models?|formats?"
)
# The question words that ask which one ("哪两种格式" asks which two)
_WHICH = r"(?:什么|哪个|哪种|哪些|哪一个|哪[几两二三四五]\s*[种个]|啥)"
_ASKS_TOOL = re.compile(
    rf"{_WHICH}\w{{0,3}}?(?P<zh>{_TOOL_KINDS_NAMED_FIRST}|环境|语言|网站|格式)"
    # ... the kind said in English in a Chinese question: "支持哪几种 RL algorithm"
    rf"|{_WHICH}\s*(?:[A-Za-z]+\s+)?(?P<mixed>{_TOOL_KINDS_EN}){_LATIN_END}"
    # ... or named first: "向量库用哪个", "框架选的是什么" ("知识库是什么" asks what it is)
    rf"|(?P<first>{_TOOL_KINDS_NAMED_FIRST})"
    r"(?:(?:用|选|采用|选用)的?是?(?:哪个|哪种|哪一个|什么|啥)|是(?:哪个|哪种|哪一个))"
    # "which web service framework", "what is the web service framework": up to two words
    rf"|\b(?:which|what)\s+(?:(?:is|are|was|were)\s+the\s+)?(?:[a-z]+\s+){{0,2}}"
    rf"(?P<en>{_TOOL_KINDS_EN})\b",
    re.IGNORECASE,
)


def tool_asked(question: str) -> str:
    """The kind of tool a question asks for by name ("库" of "用的是哪个库", "framework" of
    "which web framework"), lower-cased; "" when it asks for none. A sentence that names
    a tool ("LangChain RAG") says that word: it names an instance of it."""
    match = _ASKS_TOOL.search(question)
    if not match:
        return ""
    kind = match.group("zh") or match.group("first") or match.group("mixed") or match.group("en")
    return kind.lower()


_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+\-]+")


def names_another(text: str, question: str) -> bool:
    """Whether the text names something (a Latin word of three or more characters: not
    "AI" of "飞书AI机器人") the question does not."""
    asked = {w.lower() for w in _LATIN_WORD.findall(question)}
    return any(len(w) > 2 and w.lower() not in asked for w in _LATIN_WORD.findall(text))
