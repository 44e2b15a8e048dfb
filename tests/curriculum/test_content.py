from __future__ import annotations

import re

import pytest
from django.core.management import CommandError, call_command

from portal.curriculum.content import read_content
from portal.curriculum.models import GuideEntry, Item, ItemKind, ItemProgress, Phase, Week
from portal.curriculum.services import set_item_done

pytestmark = pytest.mark.django_db

SEED_SKILLS = [
    "Python高级特性（装饰器、异步、性能优化）",
    "C++现代特性（RAII、模板、智能指针）",
    "CUDA基础（简单kernel编写）",
    "PyTorch熟练使用",
    "自定义算子开发",
    "模型导出（ONNX/TorchScript）",
    "Transformer架构理解",
    "至少部署过1个大模型",
    "掌握1种量化技术",
    "理解GPU架构",
    "能进行性能分析（profiling）",
    "了解AI芯片生态",
    "FastAPI服务开发",
    "飞书开放平台集成",
    "Docker部署经验",
]
SEED_OUTPUTS = [
    "大模型部署优化项目",
    "飞书AI机器人",
    "Agent Sandbox原型",
    "每个项目有完整README",
    "至少1份性能测试报告",
    "API文档",
    "录制3个项目演示视频",
    "部署在线Demo（至少1个）",
    "准备面试PPT",
    "阅读20+篇核心论文",
    "撰写技术博客（3-5篇）",
    "参与开源项目贡献",
]
WEEK1_ACTIONS = {
    "Day 1-2": [
        "安装Python 3.10+",
        "配置CUDA环境（如有GPU）",
        "安装PyTorch 2.0+",
        "创建GitHub账号并配置SSH",
        "注册Hugging Face账号",
    ],
    "Day 3-4": ["开始MIT 6.0001课程", "复习Python高级特性", "阅读PyTorch官方教程"],
    "Day 5-7": ["实现简单的PyTorch模型（MNIST）", "上传到GitHub", "撰写README文档"],
}
CORE_PAPERS = (
    "1706.03762 1810.04805 2005.14165 2302.13971 2104.09864 1911.02150 2305.13245 "
    "2205.14135 2307.08691 2407.08608 1805.02867 2112.05682 2208.07339 2210.17323 "
    "2306.00978 2211.10438 2305.14314 1712.05877 2309.06180 2211.17192 2302.01318 "
    "2401.10774 2312.07104 2403.02310 2401.09670 1704.04760 2304.01433 1802.04799"
).split()


def test_the_plan_has_four_phases_and_sixteen_weeks_as_the_overview_lays_out(plan):
    phases = list(Phase.objects.values_list("title", "first_week", "last_week", "milestone"))
    assert phases == [
        ("基础强化", 1, 4, "基础技能掌握"),
        ("硬件优化", 5, 8, "优化能力获得"),
        ("大模型技术", 9, 12, "Demo 1完成"),
        ("应用开发", 13, 16, "Demo 2&3完成"),
    ]
    assert list(Week.objects.values_list("number", flat=True)) == list(range(1, 17))
    for week in Week.objects.all():
        assert week.goals and week.topics and week.resources and week.project["title"]
        assert week.kaggle, f"week {week.number} has no Kaggle activity"
        assert week.items.filter(kind=ItemKind.TASK).count() >= 7, week.number


def test_the_weekly_projects_of_the_overview_sit_in_their_weeks_and_link_to_labs(plan):
    assert "LLM量化部署" in Week.objects.get(number=8).project["title"]
    assert Week.objects.get(number=8).project["lab"] == "llm-quant"
    assert "自定义CUDA Kernel" in Week.objects.get(number=10).project["title"]
    assert Week.objects.get(number=10).project["lab"] == "kernels"
    assert "飞书AI机器人" in Week.objects.get(number=14).project["title"]
    assert "Agent Sandbox原型" in Week.objects.get(number=16).project["title"]
    assert Week.objects.get(number=16).project["lab"] == "agent-sandbox"
    assert "Demo 1" in Week.objects.get(number=12).project["title"]
    assert Item.objects.get(slug="skill-quantization").labs == ["llm-quant"]


def test_every_core_goal_of_the_overview_is_a_checklist_item(plan):
    skills = list(
        Item.objects.filter(kind=ItemKind.SKILL).order_by("order").values_list("title", flat=True)
    )
    outputs = list(
        Item.objects.filter(kind=ItemKind.OUTPUT).order_by("order").values_list("title", flat=True)
    )
    assert skills == SEED_SKILLS
    assert outputs == SEED_OUTPUTS


def test_week_one_tasks_contain_the_whole_action_list_by_day(plan):
    tasks = Item.objects.filter(week__number=1, kind=ItemKind.TASK)
    for day, titles in WEEK1_ACTIONS.items():
        in_day = list(
            tasks.filter(group__startswith=day).order_by("order").values_list("title", flat=True)
        )
        assert in_day == titles


def test_readings_cover_all_28_core_papers_and_resources_are_real_urls(plan):
    read = {r["arxiv_id"] for w in Week.objects.all() for r in w.readings}
    assert set(CORE_PAPERS) <= read
    for week in Week.objects.all():
        for resource in week.resources:
            assert re.match(r"^https://[\w.-]+\.[a-z]{2,}/", resource["url"]), resource
    urls = {r["url"] for w in Week.objects.all() for r in w.resources}
    for course in (
        "ocw.mit.edu/courses/6-0001",
        "cs231n.stanford.edu",
        "web.stanford.edu/class/cs224n",
        "cs149",
        "cs267",
        "hanlab.mit.edu/courses",
        "dlsyscourse.org",
        "open.feishu.cn",
        "docs.vllm.ai",
        "triton-lang.org",
        "docs.nvidia.com/cuda",
        "pytorch.org/tutorials",
    ):
        assert any(course in u for u in urls), course


def test_the_guide_carries_time_split_faq_communities_blogs_and_open_source(plan):
    shares = dict(
        GuideEntry.objects.filter(section="time_split").values_list("slug", "data__share")
    )
    assert shares == {"theory": 30, "practice": 40, "papers": 15, "demo": 15}
    faq = GuideEntry.objects.filter(section="faq").order_by("order")
    assert [f.title for f in faq] == [
        "没有GPU怎么办？",
        "如何获取曦望sunrise的芯片SDK？",
        "飞书开发需要企业账号吗？",
        "16周时间太紧张？",
    ]
    assert "Kaggle Notebooks（30h/week GPU）" in faq[0].data["answers"][1]
    urls = set(GuideEntry.objects.values_list("url", flat=True))
    for url in (
        "https://huggingface.co/blog",
        "https://developer.nvidia.com/blog",
        "https://lilianweng.github.io/",
        "https://www.jiqizhixin.com/",
        "https://github.com/vllm-project/vllm",
        "https://github.com/Dao-AILab/flash-attention",
        "https://github.com/DLR-RM/stable-baselines3",
    ):
        assert url in urls
    assert GuideEntry.objects.filter(
        section="community", title__contains="r/MachineLearning"
    ).exists()


def test_loading_twice_changes_nothing_and_keeps_progress(
    plan, owner, task, django_assert_max_num_queries
):
    set_item_done(user=owner, item=task, done=True)
    ids = dict(Item.objects.values_list("slug", "pk"))
    with django_assert_max_num_queries(20):
        call_command("loadcurriculum", verbosity=0)
    assert dict(Item.objects.values_list("slug", "pk")) == ids
    assert ItemProgress.objects.get(user=owner, item=task).done


def test_editing_text_updates_in_place_and_removing_an_item_archives_it(
    plan, owner, task, tmp_path, settings
):
    import shutil

    from portal.curriculum.content import CONTENT_DIR

    content = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, content)
    phase1 = content / "phase1.yaml"
    text = phase1.read_text(encoding="utf-8")
    text = text.replace("title: 安装Python 3.10+\n", "title: 安装Python 3.11+\n")
    # Drop one task entirely.
    start = text.index("      - slug: w01-github-ssh")
    end = text.index("      - slug: w01-huggingface-account")
    phase1.write_text(text[:start] + text[end:], encoding="utf-8")
    ssh = Item.objects.get(slug="w01-github-ssh")
    set_item_done(user=owner, item=ssh, done=True)

    call_command("loadcurriculum", "--dir", str(content), verbosity=0)

    task.refresh_from_db()
    ssh.refresh_from_db()
    assert task.title == "安装Python 3.11+"
    assert ssh.archived
    assert ItemProgress.objects.get(user=owner, item=ssh).done  # progress kept
    assert not Item.objects.active().filter(slug="w01-github-ssh").exists()

    call_command("loadcurriculum", verbosity=0)  # restoring the file un-archives it
    ssh.refresh_from_db()
    assert not ssh.archived


def test_invalid_content_is_refused_with_a_message_and_writes_nothing(db, tmp_path):
    import shutil

    from portal.curriculum.content import CONTENT_DIR

    content = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, content)
    goals = content / "goals.yaml"
    goals.write_text(
        goals.read_text(encoding="utf-8").replace("slug: skill-docker", "slug: skill-fastapi"),
        encoding="utf-8",
    )
    with pytest.raises(CommandError, match="duplicate item slugs"):
        call_command("loadcurriculum", "--dir", str(content), verbosity=0)
    assert not Week.objects.exists()


def test_content_files_validate():
    content = read_content()
    assert sum(len(w.tasks) for p in content.phases for w in p.weeks) >= 120
